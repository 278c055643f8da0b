"""The monitor: pending age-out, failure spikes, the deposit. Decisions are pure functions of
stored state and now (decisions.py); only the loop does I/O (loop.py)."""
