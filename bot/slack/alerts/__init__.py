"""Alerts in Slack: the notifier that delivers the incidents' outbox, the renderers that
draw each kind of incident (`kinds/`, one module per kind, named as its `IncidentKind`'s
value), and the unit every entry point runs (`alerting`)."""
