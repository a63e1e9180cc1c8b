"""The golden run: the default generated sample through the real ingest and audit, and its answers.

Shared by the golden tests (tests/golden/conftest.py) and `regenerate.py`, so both compute the
answers the same way. Ingestion runs once over the union of the audited days' export ranges; each
day is then audited on the same canonical frames with the cut-off the daily flow would use (the
end of the newest export day inside that day's own range: `flows.daily.audit_window`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from configs.policy import Policy, load_policy
from devtools.sample_data import GeneratorConfig, generate_exports
from flows.windows import data_cutoff, default_audit_date, export_range
from ingestion.ingest import IngestResult, ingest_all
from storage import open_storage
from transforms.audit import CanonicalTables, collect_audit, run_audit
from transforms.contacts import AuditWindow

# The default sample (20 agents in 4 teams, 42 export days, faults on), pinned seed and end date.
SAMPLE = GeneratorConfig(end_date=date(2026, 11, 22), seed=7)
NEWEST_EXPORT = SAMPLE.end_date

# Mature days (every look-ahead window closed at the cut-off: D <= newest export - 7), chosen for
# what the plants put on them:
#   11-01  unknown_currency; the beneficiary has 2 concessions in the window (no flag yet)
#   11-02  the amount outlier
#   11-03  over_cap and self_approved
#   11-04  the beneficiary's third concession (the first day it is flagged) and type_not_allowed
#   11-09  the beneficiary's fourth concession; first day with a full 28-day window of data
#   11-15  the newest mature day (newest export - 7)
MATURE_DAYS = tuple(date(2026, 11, d) for d in (1, 2, 3, 4, 9, 15))
ENTITY_NAMES = ("tickets", "ticket_events", "calls")
ANSWERS = Path(__file__).with_name("answers") / "golden_answers.json"
DIGITS = 9
# Per-agent rate metrics recorded in the answers.
ANSWER_RATES = ("follow_up", "missed_escalation", "first_contact_resolution")
INLINE_WIDTH = 200
FLAG_NUMBERS = ("observed", "expected", "statistic", "p_value", "q_value", "threshold")


@dataclass(frozen=True, repr=False)
class GoldenRun:
    """Everything the golden tests look at, computed once."""

    landing: Path
    plants: dict[str, Any]
    policy: Policy
    ingested: dict[str, IngestResult]
    windows: dict[date, AuditWindow]
    tables: dict[date, dict[str, pl.DataFrame]]

    def __repr__(self) -> str:  # short: hypothesis and pytest print it
        return f"GoldenRun({self.landing}, days={[d.isoformat() for d in self.days]})"

    @property
    def canonical(self) -> CanonicalTables:
        return canonical_tables(self.ingested)

    @property
    def default_day(self) -> date:
        return default_audit_date(NEWEST_EXPORT, self.policy)

    @property
    def days(self) -> list[date]:
        return sorted(self.windows)

    def table(self, name: str) -> pl.DataFrame:
        """One audit table over every audited day."""
        return pl.concat([self.tables[d][name] for d in self.days], how="vertical")


def canonical_tables(ingested: dict[str, IngestResult]) -> CanonicalTables:
    return CanonicalTables(*(ingested[name].canonical for name in ENTITY_NAMES))


def audit_days(policy: Policy) -> list[date]:
    return sorted({*MATURE_DAYS, default_audit_date(NEWEST_EXPORT, policy)})


def flow_window(day: date, policy: Policy, ingested: dict[str, IngestResult]) -> AuditWindow:
    """The window the daily flow would audit `day` with: its cut-off is the end of the newest
    export day read within the day's own export range (not the union range read here)."""
    span = export_range(day, policy)
    read = [
        d
        for result in ingested.values()
        for d in result.files["export_date"].drop_nulls().to_list()
        if span.start <= d <= span.end
    ]
    tz = policy.business_time_zone
    return AuditWindow(day, tz, data_cutoff(max(read, default=None), day, tz))


def audit(inputs: CanonicalTables, window: AuditWindow, policy: Policy) -> dict[str, pl.DataFrame]:
    return collect_audit(run_audit(inputs, window, policy))


def golden_run(landing: Path) -> GoldenRun:
    """Generate the sample into `landing` (an empty folder), ingest once, audit every day."""
    policy = load_policy()
    generate_exports(str(landing), SAMPLE, policy=policy)
    days = audit_days(policy)
    spans = [export_range(d, policy) for d in days]
    start, end = min(s.start for s in spans), max(s.end for s in spans)
    ingested = ingest_all(open_storage(str(landing)), start, end, run_id="golden")
    inputs = canonical_tables(ingested)
    windows = {d: flow_window(d, policy, ingested) for d in days}
    tables = {d: audit(inputs, windows[d], policy) for d in days}
    plants = json.loads((landing / "_generator" / "plants.json").read_text())
    return GoldenRun(landing, plants, policy, ingested, windows, tables)


# --- golden answers -------------------------------------------------------------------------------


def rounded(value: Any) -> Any:
    """Floats to DIGITS places (NaN as null) so the answers compare exactly across platforms."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, DIGITS)
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def agent_answers(scorecard: pl.DataFrame) -> dict[str, dict[str, list[int]]]:
    rows = scorecard.sort("agent_id").to_dicts()
    return {
        row["agent_id"]: {m: [row[f"{m}_numerator"], row[f"{m}_denominator"]] for m in ANSWER_RATES}
        for row in rows
    }


def flag_answers(flags: pl.DataFrame) -> list[dict[str, Any]]:
    ordered = flags.sort("flag_type", "subject_type", "subject_id")
    return [
        {
            "flag_type": row["flag_type"],
            "subject_type": row["subject_type"],
            "subject_id": row["subject_id"],
            **{k: rounded(row[k]) for k in FLAG_NUMBERS},
            "evidence_count": len(row["evidence_ids"] or []),
            # An agent flag's evidence is every conceded contact (hundreds): the count suffices.
            **({} if row["subject_type"] == "agent" else {"evidence_ids": sorted(row["evidence_ids"] or [])}),
        }
        for row in ordered.to_dicts()
    ]


def quarantine_counts(ingested: dict[str, IngestResult]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for name in ENTITY_NAMES:
        by_reason = ingested[name].quarantine.group_by("reason").len().sort("reason")
        counts[name] = dict(zip(by_reason["reason"].to_list(), by_reason["len"].to_list(), strict=True))
    return counts


def answers(run: GoldenRun) -> dict[str, Any]:
    """The compact golden answer document for the run."""
    return {
        "sample": {"seed": SAMPLE.seed, "end_date": SAMPLE.end_date.isoformat(), "days": SAMPLE.days},
        "policy_version": run.policy.version,
        "quarantine": quarantine_counts(run.ingested),
        "days": {
            day.isoformat(): {
                "data_cutoff": run.windows[day].data_cutoff.isoformat(),
                "agents": agent_answers(run.tables[day]["agent_scorecard"]),
                "flags": flag_answers(run.tables[day]["concession_flags"]),
            }
            for day in run.days
        },
    }


def dump_answers(document: dict[str, Any]) -> str:
    """Indented JSON with short containers on one line (one agent or flag per line), keys sorted,
    so a changed answer shows as a small diff."""
    return _dump(document, "") + "\n"


def _dump(value: Any, indent: str) -> str:
    flat = json.dumps(value, sort_keys=True)
    if not isinstance(value, dict | list) or len(indent) + len(flat) <= INLINE_WIDTH:
        return flat
    inner = indent + " "
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {_dump(value[k], inner)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    return "[\n" + ",\n".join(f"{inner}{_dump(v, inner)}" for v in value) + f"\n{indent}]"
