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
            f"is_{metric}_low_volume": n < min_volume,
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
        "is_customer_came_back_first",
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
            "is_started_negative": c.startswith("C"),
            "is_de_escalated": False,
            "is_lost_control": False,
            "is_argumentative": False,
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
    """a2's concession rate and customer ck_ccc1's repeat concessions."""
    common = {"audit_date": D, "run_id": RUN_ID, "window_start": D - timedelta(days=27), "window_end": D}
    flags = [
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
    return flags


def lifecycle_rows() -> list[dict[str, Any]]:
    """`concession_flag_lifecycle` of D: a2's flag is new, the customer's ongoing since D-3."""
    states = [("new", D, 1), ("ongoing", D - timedelta(days=3), 4)]
    return [
        {key: flag[key] for key in ("audit_date", "flag_type", "subject_type", "subject_id", "run_id")}
        | {"status": s, "first_flagged_on": since, "consecutive_days": days}
        for flag, (s, since, days) in zip(flag_rows(), states, strict=True)
    ]


def queue_rows() -> list[dict[str, Any]]:
    """billing/t1: 2 of 10 queued legs abandoned, waits median 30 s, p90 85 s; a leg with no
    queue and no team, answered after 12 s."""
    rows = []
    for queue, team, k, n, median, p90 in (
        ("billing", "t1", 2, 10, 30.0, 85.0),
        (None, None, 0, 1, 12.0, 12.0),
    ):
        low, high = wilson(k, n)
        rows.append(
            {
                "audit_date": D,
                "queue": queue,
                "team_id": team,
                "abandonment_numerator": k,
                "abandonment_denominator": n,
                "abandonment_rate": k / n,
                "abandonment_ci_low": low,
                "abandonment_ci_high": high,
                "is_abandonment_low_volume": True,
                "queue_wait_seconds_median": median,
                "queue_wait_seconds_p90": p90,
                "policy_version": POLICY_VERSION,
                "run_id": RUN_ID,
            }
        )
    return rows


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


def build_warehouse(
    root: Path | str, storage_options: dict[str, str] | None = None, *, v2: bool = False
) -> Path | str:
    """A warehouse with every table the report reads, for day D (and D-1, D-30 team scorecards).

    `v2` adds what report v2 reads: the period scorecards, the peer comparison, the concession
    flags' lifecycle, and a1's scorecard on D-1 and D-30 (for their page's trend).
    """
    tables = {
        "agent_scorecard": agent_rows() + (earlier_agent_rows() if v2 else []),
        "team_scorecard": team_rows_for_day() + earlier_team_rows(),
        "follow_up_audit": follow_up_rows(),
        "escalation_audit": escalation_rows(),
        "concession_audit": concession_rows(),
        "concession_flags": flag_rows(),
        "queue_scorecard": queue_rows(),
        "run_manifest": manifest_rows(),
        **({"concession_flag_lifecycle": lifecycle_rows()} if v2 else {}),
    }
    for name, rows in tables.items():
        write_table(root, name, frame(rows), storage_options)
    if v2:
        period_tables = {
            "agent_period_scorecard": agent_period_rows(),
            "team_period_scorecard": team_period_rows(),
            "peer_comparison": peer_rows(),
        }
        for name, rows in period_tables.items():
            write_period_table(root, name, frame(rows), storage_options)
    return root


def write_period_table(
    warehouse: Path | str, name: str, df: pl.DataFrame, storage_options: dict[str, str] | None = None
) -> None:
    """A period table, partitioned by period like the published ones."""
    target = f"{str(warehouse).rstrip('/')}/{name}"
    df.write_delta(target, storage_options=storage_options, delta_write_options={"partition_by": ["period"]})


def earlier_agent_rows() -> list[dict[str, Any]]:
    """a1 on D-1 (1 of 1 followed up) and D-30 (outside their 28-day trend)."""
    volumes = dict.fromkeys(
        ("contacts", "tickets_solved", "calls_answered", "policy_violations", "concession_flags"), 0
    )
    return [
        scorecard_row(D - timedelta(days=1), "t1", "a1", follow_up=(1, 1)) | volumes,
        scorecard_row(D - timedelta(days=30), "t1", "a1", follow_up=(7, 7)) | volumes,
    ]


WEEK_START = date(2026, 11, 16)  # D is a Friday: its ISO week is 16..22 November
MONTH_START = date(2026, 11, 1)
ROLLING_START = D - timedelta(days=27)
PERIODS = {
    "week": (WEEK_START, date(2026, 11, 22), 5),
    "month": (MONTH_START, date(2026, 11, 30), 20),
    "rolling_28d": (ROLLING_START, D, 28),
}
# a1's follow-up per period: the week is 1 of 4 (25%), whatever the mean of their daily rates.
A1_FOLLOW_UP = {"week": (1, 4), "month": (30, 40), "rolling_28d": (33, 44)}


def _period_keys(kind: str, start: date | None = None, end: date | None = None) -> dict[str, Any]:
    first, last, days = PERIODS[kind]
    return {"period": kind, "period_start": start or first, "period_end": end or last, "published_days": days}


def agent_period_rows() -> list[dict[str, Any]]:
    """a1, a2 and a3 in the week, month and rolling 28 days holding D; a1 also in the week
    before (9 of 9), which the report must not show."""
    rows = []
    for kind in PERIODS:
        for agent, team, follow_up in (
            ("a1", "t1", A1_FOLLOW_UP[kind]),
            ("a2", "t1", (2, 10)),
            ("a3", "t2", (0, 12)),
        ):
            row = scorecard_row(D, team, agent, follow_up=follow_up, reopen=(1, 8))
            del row["audit_date"]
            rows.append(_period_keys(kind) | row | {"active_days": 2, "contacts": follow_up[1] * 2})
    before = scorecard_row(D, "t1", "a1", follow_up=(9, 9))
    del before["audit_date"]
    rows.append(
        _period_keys("week", WEEK_START - timedelta(days=7), WEEK_START - timedelta(days=1))
        | before
        | {"active_days": 1, "contacts": 9}
    )
    return rows


def team_period_rows() -> list[dict[str, Any]]:
    """t1 and t2 per period: t1's week is a1 + a2 (3 of 14 followed up)."""
    rows = []
    for kind in PERIODS:
        a1 = A1_FOLLOW_UP[kind]
        for team, follow_up in (("t1", (a1[0] + 2, a1[1] + 10)), ("t2", (0, 12))):
            row = scorecard_row(D, team, follow_up=follow_up)
            del row["audit_date"]
            rows.append(_period_keys(kind) | row | {"active_days": 5, "contacts": follow_up[1] * 2})
    return rows


Z_INNER, Z_OUTER = 1.959963984540054, 3.090232306167813  # two-sided 95% and 99.8% normal quantiles


def peer_row(
    agent: str, team: str, k: int, n: int, *, comparison: str = "centre", p0: float = 0.2, **extra: Any
) -> dict[str, Any]:
    """One peer_comparison row for follow_up over the 28 days ending on D (phi = 1)."""
    half = math.sqrt(p0 * (1 - p0) / n)
    row = {
        **_period_keys("rolling_28d"),
        "metric": "follow_up",
        "comparison": comparison,
        "team_id": team,
        "agent_id": agent,
        "flag_type": None,
        "numerator": k,
        "denominator": n,
        "rate": k / n,
        "peer_rate": p0,
        "peer_agents": 4,
        "overdispersion_estimate": 0.8,
        "overdispersion": 1.0,
        "z_unadjusted": (k / n - p0) / half,
        "z": (k / n - p0) / half,
        "p_value": 0.5,
        "q_value": 0.5,
        "fdr": 0.05,
        "inner_coverage": 0.95,
        "inner_limit_low": max(0.0, p0 - Z_INNER * half),
        "inner_limit_high": min(1.0, p0 + Z_INNER * half),
        "outer_coverage": 0.998,
        "outer_limit_low": max(0.0, p0 - Z_OUTER * half),
        "outer_limit_high": min(1.0, p0 + Z_OUTER * half),
        "evidence_ids": None,
        "evidence_count": None,
        "is_flagged": False,
        "status": None,
        "first_flagged_on": None,
        "consecutive_days": None,
        "run_id": RUN_ID,
    }
    return row | extra


A2_EVIDENCE = [f"T-7{i:02d}" for i in range(7)]


def peer_rows() -> list[dict[str, Any]]:
    """Follow-up against the centre (p0 = 0.2): a1 on the line (20/100); a2 below (2/50), flagged
    for 3 days; a3 above (30/60), newly flagged and outside the 99.8% limits; a4 at 0.265 over
    400 contacts, outside the 99.8% limits (0.2 + 3.09 * 0.02 = 0.2618) but not flagged. a3 is
    also newly flagged within team t2 (p0 = 0.25); a5's team flag cleared today."""
    return [
        peer_row("a1", "t1", 20, 100),
        peer_row(
            "a2",
            "t1",
            2,
            50,
            flag_type="below_peers",
            is_flagged=True,
            q_value=0.03,
            status="ongoing",
            first_flagged_on=D - timedelta(days=2),
            consecutive_days=3,
            evidence_ids=A2_EVIDENCE,
            evidence_count=48,
        ),
        peer_row(
            "a3",
            "t2",
            30,
            60,
            flag_type="above_peers",
            is_flagged=True,
            q_value=0.001,
            status="new",
            first_flagged_on=D,
            consecutive_days=1,
            evidence_ids=["T-301", "C-201"],
            evidence_count=2,
        ),
        peer_row("a4", "t2", 106, 400),
        peer_row(
            "a3",
            "t2",
            30,
            60,
            comparison="team",
            p0=0.25,
            flag_type="above_peers",
            is_flagged=True,
            q_value=0.004,
            status="new",
            first_flagged_on=D,
            consecutive_days=1,
            evidence_ids=["T-301"],
            evidence_count=1,
        ),
        peer_row("a5", "t2", 5, 20, comparison="team", p0=0.25, status="cleared"),
    ]


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
