"""Sparklines, bars and durations: what ops read at a glance."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.slack.blocks.charts import bar, sparkline
from bot.slack.blocks.durations import duration


def test_sparkline_one_character_per_value_scaled_to_the_peak() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([0, 0, 10, 0]) == "▁▁█▁"
    assert len(sparkline([3] * 28)) == 28


def test_sparkline_keeps_any_failure_visible_next_to_a_spike() -> None:
    line = sparkline([1, 0, 1000])
    assert line[0] != line[1]  # one failure is not drawn like none
    assert line == "▂▁█"


def test_sparkline_empty_zero_and_negative() -> None:
    assert sparkline([]) == ""
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline([-5, 2]) == "▁█"


def test_sparklines_can_share_a_scale() -> None:
    assert sparkline([1, 2], peak=8) == "▂▃"
    assert sparkline([1, 20], peak=8) == "▂█"  # past the peak is full height
    assert sparkline([4.5, 0.2]) == "█▂"


@pytest.mark.parametrize(
    ("value", "peak", "width", "expected"),
    [
        (0, 10, 10, ""),
        (10, 10, 10, "█" * 10),
        (5, 10, 10, "█" * 5),
        (1, 16, 2, "▏"),  # an eighth of a character
        (0.01, 1000, 20, "▏"),  # never rounds a positive value away
        (30, 10, 4, "████"),
        (3, 8, 1, "▍"),
    ],
)
def test_bar(value: float, peak: float, width: int, expected: str) -> None:
    assert bar(value, peak, width=width) == expected


@pytest.mark.parametrize(
    ("elapsed", "said"),
    [
        (timedelta(seconds=-3), "0 s"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(minutes=12, seconds=59), "12 min"),
        (timedelta(hours=3), "3 h"),
        (timedelta(hours=3, minutes=12, seconds=30), "3 h 12 min"),
        (timedelta(days=1), "1 d"),
        (timedelta(days=2, hours=4, minutes=59), "2 d 4 h"),
    ],
)
def test_duration(elapsed: timedelta, said: str) -> None:
    assert duration(elapsed) == said
