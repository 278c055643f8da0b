"""Incidents: what the monitor watches, decides and queues for Slack.

`model` holds the types every kind shares, `kinds/` one module per kind of incident (its
figures and replies, the SQL that gathers what it needs, a pure `decide`), `tick` the
monitor that runs every kind's watch in turn as the lease holder, and `repository`, `outbox`
and `lease` the only statements on their tables.
"""
