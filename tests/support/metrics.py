"""Reading GET /metrics as Prometheus does: with prometheus_client's own parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bot.health import HealthReport, MonitorHealth, OutboxHealth

METRICS_TOKEN = "metrics-token-5b1e0c7d9a"
# What an operator sends for /healthz's details, /docs and /openapi.json.
OPERATOR = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def health_details(url: str) -> dict[str, Any]:
    """/healthz as an operator reads it: with the token, so with the details."""
    body: dict[str, Any] = httpx.get(url + "/healthz", headers=OPERATOR, timeout=5).json()
    return body


@dataclass(frozen=True)
class Scrape:
    """Every sample of one scrape: (sample name, labels) → value."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return cls(samples)

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels (a histogram's `le` included), 0 when absent."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum of every sample of `name` whose labels include these."""
        wanted = set(labels.items())
        return sum(
            value
            for (sample, sample_labels), value in self.samples.items()
            if sample == name and wanted <= sample_labels
        )

    def has(self, name: str) -> bool:
        return any(sample == name for sample, _ in self.samples)


def scrape(url: str, token: str = METRICS_TOKEN) -> Scrape:
    """GET /metrics with the bearer token; fails the test unless it answers 200."""
    answer = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain"), answer.headers
    return Scrape.parse(answer.text)


# A health report with something to show: a leader, a backlog, a channel Slack refuses.
SAMPLE_HEALTH = HealthReport(
    monitor=MonitorHealth(
        enabled=True,
        this_process_leads=True,
        leader="web.1:42:ab12cd",
        last_tick_age_seconds=12,
    ),
    outbox=OutboxHealth(backlog=3),
    slack_errors={"C0ALERTS": "not_in_channel"},
)
