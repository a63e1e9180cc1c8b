"""Suite for `agent_scorecard` (built by expectations/_scorecard.py, shared with the team scorecard)."""

from expectations._scorecard import scorecard_suite

SUITE = scorecard_suite("agent")
