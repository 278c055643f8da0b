"""`python -m bot …` is `iak-bot …`."""

from bot.cli import main

raise SystemExit(main())
