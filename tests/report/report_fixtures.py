"""Small published tables for the report tests, written as real Delta tables.

Audit day D = 2026-11-20. Three agents show the generator's planted behaviours:
a3 never follows up and skips escalations, a2 is generous with concessions.
Rates and intervals are computed here with an independent Wilson formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl

import catalogue
from report.views import VIOLATION_COLUMNS

D = date(2026, 11, 20)
RUN_ID = "run-20261120-a"
POLICY_VERSION = "2026.11-1"
PLANTED_RAW_ID = "CUST-RAW-9931"
PLANTED_TEXT = "PLANTED FREE TEXT my card number"
# A warehouse without two of the catalogue's rates: the report shows what is published.
METRICS = tuple(m for m in catalogue.rate_metrics() if m not in ("csat_good", "abandonment"))


def wilson(k: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def scorecard_row(
    audit_date: date, team: str, agent: str | None = None, min_volume: int = 20, **counts: tuple[int, int]
) -> dict[str, Any]:
    """One scorecard row; metrics not given are 0/0; `counts` maps metric -> (numerator, denominator)."""
    row: dict[str, Any] = {"audit_date": audit_date, "run_id": RUN_ID, "team_id": team}
    if agent is not None:
        row["agent_id"] = agent
    for metric in METRICS:
        k, n = counts.get(metric, (0, 0))
        low, high = wilson(k, n)
        row |= {
            f"{metric}_numerator": k,
            f"{metric}_denominator": n,
            f"{metric}_rate": k / n if n else None,
            f"{metric}_ci_low": low,
            f"{metric}_ci_high": high,
            f"{metric}_low_volume": n < min_volume,
        }
    return row


SCHEMA_OVERRIDES = {f"{m}_{p}": pl.Int64 for m in METRICS for p in ("numerator", "denominator")} | {
    f"{m}_{p}": pl.Float64 for m in METRICS for p in ("rate", "ci_low", "ci_high")
}


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    df = pl.DataFrame(rows, infer_schema_length=None)
    return df.with_columns(
        [pl.col(c).cast(t) for c, t in SCHEMA_OVERRIDES.items() if c in df.columns]
        + [pl.col(c).cast(pl.Int64) for c in df.columns if df.schema[c] == pl.Int32]
    )


def write_table(
    warehouse: Path | str, name: str, df: pl.DataFrame, storage_options: dict[str, str] | None = None
) -> None:
    """A new Delta table `<warehouse>/<name>`, partitioned by audit_date like the published ones."""
    target = f"{str(warehouse).rstrip('/')}/{name}"
    df.write_delta(
        target, storage_options=storage_options, delta_write_options={"partition_by": ["audit_date"]}
    )


def agent_rows() -> list[dict[str, Any]]:
    a1 = scorecard_row(
        D,
        "t1",
        "a1",
        follow_up=(15, 20),
        escalation=(1, 2),
        missed_escalation=(0, 2),
        first_contact_resolution=(18, 24),
        repeat_contact=(6, 24),
        reopen=(1, 20),
        satisfaction_confirmed=(9, 10),
    )
    a2 = scorecard_row(
        D,
        "t1",
        "a2",
        follow_up=(2, 5),
        escalation=(1, 1),
        late_escalation=(1, 1),
        missed_escalation=(0, 1),
        first_contact_resolution=(20, 22),
        repeat_contact=(2, 22),
        reopen=(0, 21),
    )
    a3 = scorecard_row(
        D,
        "t2",
        "a3",
        follow_up=(0, 8),
        escalation=(0, 3),
        missed_escalation=(2, 3),
        de_escalation=(0, 1),
        first_contact_resolution=(5, 9),
        repeat_contact=(4, 9),
        reopen=(3, 7),
    )
    volumes = {"a1": (30, 20, 10, 1, 0), "a2": (25, 22, 3, 1, 1), "a3": (12, 7, 5, 0, 0)}
    for row in (a1, a2, a3):
        contacts, tickets, calls, violations, flags = volumes[row["agent_id"]]
        row |= {
            "contacts": contacts,
            "tickets_solved": tickets,
            "calls_answered": calls,
            "policy_violations": violations,
            "concession_flags": flags,
            "first_reply_minutes_median": 12.5,
        }
    return [a1, a2, a3]


def team_rows_for_day() -> list[dict[str, Any]]:
    """Team scorecard for D, the sums of the agent rows."""
    agents = agent_rows()
    rows = []
    for team in ("t1", "t2"):
        members = [r for r in agents if r["team_id"] == team]
        counts: dict[str, Any] = {
            m: (
                sum(r[f"{m}_numerator"] for r in members),
                sum(r[f"{m}_denominator"] for r in members),
            )
            for m in METRICS
        }
        row = scorecard_row(D, team, **counts)
        for c in ("contacts", "tickets_solved", "calls_answered", "policy_violations", "concession_flags"):
            row[c] = sum(r[c] for r in members)
        rows.append(row)
    return rows


def earlier_team_rows() -> list[dict[str, Any]]:
    """D-1: averaging the team rates (50% and 90%) gives 70%; the summed rate is 10/12.

    D-30 is outside the 28-day window and must not appear in the trend.
    """
    day = D - timedelta(days=1)
    old = D - timedelta(days=30)
    rows = [
        scorecard_row(day, "t1", follow_up=(1, 2), first_contact_resolution=(3, 4)),
        scorecard_row(day, "t2", follow_up=(9, 10), first_contact_resolution=(1, 4)),
        scorecard_row(old, "t1", follow_up=(5, 5)),
    ]
    volumes = ("contacts", "tickets_solved", "calls_answered", "policy_violations", "concession_flags")
    return [row | dict.fromkeys(volumes, 0) for row in rows]


def follow_up_rows() -> list[dict[str, Any]]:
    base = {"audit_date": D, "run_id": RUN_ID, "customer_id": PLANTED_RAW_ID, "body": PLANTED_TEXT}
    rows = [
        ("T-100", "ticket", "a1", "t1", "ck_aaa1", "met", "FU-1", 5.0, False),
        ("T-101", "ticket", "a1", "t1", "ck_aaa2", "missed", None, None, True),
        ("C-201", "call", "a3", "t2", "ck_bbb1", "missed", None, None, False),
        ("T-301", "ticket", "a3", "t2", "ck_bbb2", "missed", None, None, False),
        ("T-302", "ticket", "a3", "t2", "ck_bbb3", "pending", None, None, False),
    ]
    keys = (
        "contact_id",
        "contact_type",
        "agent_id",
        "team_id",
        "customer_key",
        "status",
        "follow_up_id",
        "hours_to_follow_up",
        "customer_came_back_first",
    )
    return [base | dict(zip(keys, r, strict=True)) for r in rows]


def escalation_rows() -> list[dict[str, Any]]:
    rows = [
        ("T-110", "ticket", "a1", "t1", ["customer_asked"], "timely"),
        ("T-111", "ticket", "a1", "t1", ["urgent"], "handled"),
        ("T-120", "ticket", "a2", "t1", ["customer_asked"], "late"),
        ("C-210", "call", "a3", "t2", ["started_negative"], "missed"),
        ("T-311", "ticket", "a3", "t2", ["repeat_contact", "urgent"], "missed"),
    ]
    return [
        {
            "audit_date": D,
            "run_id": RUN_ID,
            "contact_id": c,
            "contact_type": t,
            "agent_id": a,
            "team_id": team,
            "signals": s,
            "escalation_class": cls,
            "started_negative": c.startswith("C"),
            "de_escalated": False,
            "lost_control": False,
            "argumentative": False,
        }
        for c, t, a, team, s, cls in rows
    ]


def concession_rows() -> list[dict[str, Any]]:
    rows = [
        ("E-501", "T-120", "a2", "ck_ccc1", "billing", "credit", 150.0, "USD", 150.0, ["over_cap"]),
        ("E-502", "T-121", "a2", "ck_ccc1", "billing", "refund", 20.0, "EUR", 21.6, []),
        ("C-503", "C-220", "a1", "ck_ccc1", "outage", "credit", 60.0, "USD", 60.0, ["missing_approval"]),
    ]
    keys = VIOLATION_COLUMNS
    base = {
        "audit_date": D,
        "run_id": RUN_ID,
        "policy_version": POLICY_VERSION,
        "customer_id": PLANTED_RAW_ID,
    }
    out = [base | dict(zip(keys, r, strict=True)) for r in rows]
    return out


def flag_rows() -> list[dict[str, Any]]:
    common = {"audit_date": D, "run_id": RUN_ID, "window_start": D - timedelta(days=27), "window_end": D}
    return [
        common
        | {
            "flag_type": "high_concession_rate",
            "subject_type": "agent",
            "subject_id": "a2",
            "observed": 12.0,
            "expected": 4.1,
            "statistic": 3.9,
            "p_value": 4.81e-5,
            "q_value": 1.44e-4,
            "threshold": 1.5,
            "evidence_ids": ["E-501", "E-502"],
        },
        common
        | {
            "flag_type": "repeat_beneficiary",
            "subject_type": "customer",
            "subject_id": "ck_ccc1",
            "observed": 3.0,
            "expected": None,
            "statistic": 3.0,
            "p_value": None,
            "q_value": None,
            "threshold": 3.0,
            "evidence_ids": ["E-501", "E-502", "C-503"],
        },
    ]


def manifest_rows() -> list[dict[str, Any]]:
    return [
        {
            "audit_date": D,
            "run_id": RUN_ID,
            "policy_version": POLICY_VERSION,
            "validation_success": True,
            "started_at": "2026-11-21T02:00:00Z",
        }
    ]


def build_warehouse(root: Path | str, storage_options: dict[str, str] | None = None) -> Path | str:
    """A warehouse with every table the report reads, for day D (and D-1, D-30 team scorecards)."""
    tables = {
        "agent_scorecard": agent_rows(),
        "team_scorecard": team_rows_for_day() + earlier_team_rows(),
        "follow_up_audit": follow_up_rows(),
        "escalation_audit": escalation_rows(),
        "concession_audit": concession_rows(),
        "concession_flags": flag_rows(),
        "run_manifest": manifest_rows(),
    }
    for name, rows in tables.items():
        write_table(root, name, frame(rows), storage_options)
    return root


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parents: list[Element] = field(default_factory=list, repr=False, compare=False)
    text: str = ""

    def inside(self, tag: str, **attrs: str) -> bool:
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return any(p.tag == tag and all(p.attrs.get(k) == v for k, v in wanted.items()) for p in self.parents)


@dataclass
class PageParser(HTMLParser):
    """Collects every element with its attributes and text, for assertions on the report."""

    elements: list[Element] = field(default_factory=list, repr=False)
    _open: list[Element] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, list(self._open))
        self.elements.append(element)
        if tag == "br":
            self.handle_data(" ")
        if tag not in ("meta", "br", "link", "img", "input", "path", "rect", "line"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def find(self, tag: str, **attrs: str) -> list[Element]:
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [
            e for e in self.elements if e.tag == tag and all(e.attrs.get(k) == v for k, v in wanted.items())
        ]

    def rate_cell(self, table_id: str, row: dict[str, str], metric: str) -> Element:
        """The one rate cell of `metric` in the table row whose attributes match `row`."""
        cells = [
            e
            for e in self.find("td", data_metric=metric)
            if e.inside("table", id=table_id) and e.inside("tr", **row)
        ]
        assert len(cells) == 1, f"{len(cells)} cells for {metric} in {table_id} {row}"
        return cells[0]

    def column(self, table_id: str, col: str) -> list[str]:
        return [e.text.strip() for e in self.find("td", data_col=col) if e.inside("table", id=table_id)]


def parse_page(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser
