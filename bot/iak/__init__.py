"""IAK's prepaid API: signing, payload models, and the HTTP client."""
