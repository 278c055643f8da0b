"""Everything that speaks Slack: listeners, Block Kit builders, delivery."""
