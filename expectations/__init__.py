"""Great Expectations suites as code, one module per input entity and published table.

`SUITES` maps a frame name to its suite; `expectations.gate.run_validation` runs them. A
suite may have long views (the scorecards: `<table>_rates`, `<table>_counts`), each run as
its own GX validation and reported under the table.
"""

from catalogue import TABLES
from expectations import (
    agent_period_scorecard,
    agent_scorecard,
    agents,
    calls,
    concession_audit,
    concession_flag_lifecycle,
    concession_flags,
    escalation_audit,
    follow_up_audit,
    metric_observations,
    peer_comparison,
    quarantine,
    queue_scorecard,
    run_manifest,
    team_period_scorecard,
    team_scorecard,
    teams,
    ticket_events,
    tickets,
)
from expectations._suite import CRITICAL, WARNING, Suite, SuiteParams, View
from transforms.schemas import ENTITIES

INPUT_SUITES = tuple(ENTITIES)
OUTPUT_SUITES = tuple(table.suite for table in TABLES.values())
SUITES: dict[str, Suite] = {
    m.SUITE.name: m.SUITE
    for m in (
        tickets,
        ticket_events,
        calls,
        agent_scorecard,
        team_scorecard,
        queue_scorecard,
        follow_up_audit,
        escalation_audit,
        concession_audit,
        concession_flags,
        metric_observations,
        quarantine,
        run_manifest,
        agent_period_scorecard,
        team_period_scorecard,
        peer_comparison,
        concession_flag_lifecycle,
        agents,
        teams,
    )
}

__all__ = ["CRITICAL", "INPUT_SUITES", "OUTPUT_SUITES", "SUITES", "WARNING", "Suite", "SuiteParams", "View"]
