"""Suite for `team_period_scorecard` (expectations/_scorecard.py, shared with the daily scorecards)."""

from expectations._scorecard import period_scorecard_suite

SUITE = period_scorecard_suite("team")
