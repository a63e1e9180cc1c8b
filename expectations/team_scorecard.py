"""Suite for `team_scorecard` (built by expectations/_scorecard.py, shared with the agent scorecard)."""

from expectations._scorecard import scorecard_suite

SUITE = scorecard_suite("team")
