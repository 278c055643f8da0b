"""Incidents and their outbox of Slack operations. Knows nothing of Block Kit:
`bot.slack` renders and delivers what is queued here."""
