"""Pure Block Kit builders: data in, Slack message dicts out. The only code that knows Block Kit."""
