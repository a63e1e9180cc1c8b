"""The one catalogue of what support-audit publishes: its tables and its metrics.

Plain typed data. Publishing (warehouse/), the suites (expectations/), the audit composition
(transforms/audit.py), the scorecards, the report, the terminal view, the run summary and the
quickstart read it, and docs/outputs.md is generated from it (`python -m devtools.outputs_doc`;
tests/catalogue fails when that file is stale).

- **Metrics** are declared by their family module (`transforms/<family>.py`, `METRICS`), beside
  the code that computes them; `FAMILIES` lists the families in order and `METRICS` gathers their
  declarations. Adding a rate metric to a family reaches the scorecards, their suites, the
  report and docs/outputs.md with no change here.
- **Tables** name their grain, key (unique per row, and the publish sort order), partitioning,
  write mode, columns (type, description and, for a vocabulary, its values) and suite. Column
  types come from the code that builds each frame (a family's evidence schema, the quarantine
  schema), so the catalogue cannot drift from what is written; only descriptions live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Literal

import polars as pl

from transforms import concessions, dimensions, escalation, follow_up, peers, resolution
from transforms.parts import OBSERVATION_KINDS, OBSERVATIONS_SCHEMA, Metric, MetricKind
from transforms.peers import PEER_COMPARISON_DESCRIPTIONS, ROLLING_PEERS_SCHEMA
from transforms.periods import PERIOD_KINDS
from transforms.pseudonym import CUSTOMER_ID, CUSTOMER_KEY, FREE_TEXT_COLUMNS
from transforms.schemas import ENTITIES
from transforms.schemas import quarantine as quarantine_reasons
from transforms.stats import rate_column

__all__ = [
    "AUDIT_TABLES",
    "DATA_DOCS_PREFIX",
    "DIMENSION_TABLES",
    "FAMILIES",
    "MANIFEST_TABLE",
    "METRICS",
    "METRIC_TABLES",
    "PARTITION",
    "PERIOD_TABLES",
    "REPORTS_PREFIX",
    "SUMMARY_FILE",
    "TABLES",
    "TABLE_VERSION_SCHEMA",
    "VOLUMES",
    "Column",
    "Metric",
    "Table",
    "build_tables",
    "gather_metrics",
    "headline_metrics",
    "metric",
    "metrics",
    "rate_metrics",
    "scorecard_columns",
]

PARTITION = "audit_date"
MANIFEST_TABLE = "run_manifest"
# Where a run's validation pages and HTML report go under the reports URI.
DATA_DOCS_PREFIX = "data_docs"  # <reports>/data_docs/audit_date=D/run_id=R/, and index.html
SUMMARY_FILE = "summary.json"  # each run's validation summary, beside its Data Docs
REPORTS_PREFIX = "audit_report"  # <reports>/audit_report/audit_date=D/index.html

# --- metrics --------------------------------------------------------------------------------------

# The metric families in reading order (docs/metrics.md, sections 1-4): each module has `METRICS` and
# `audit_<name>(scope, window, policy) -> FamilyResult`.
FAMILIES: Mapping[str, ModuleType] = {
    "follow_up": follow_up,
    "escalation": escalation,
    "concessions": concessions,
    "resolution": resolution,
}


def gather_metrics(families: Mapping[str, ModuleType] = FAMILIES) -> tuple[Metric, ...]:
    """Every family's `METRICS`, in family order, each stamped with its family; a name declared
    twice is refused."""
    gathered = tuple(replace(m, family=name) for name, module in families.items() for m in module.METRICS)
    names = [m.name for m in gathered]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"metrics declared twice: {repeated}")
    return gathered


METRICS: tuple[Metric, ...] = gather_metrics()

# Volumes: counted from the contact universe by the scorecards themselves, not from parts.
VOLUMES: tuple[Metric, ...] = tuple(
    Metric(name, "count", label=label, description=description, anchor="scorecards", family="contacts")
    for name, label, description in (
        ("contacts", "Contacts", "Contacts closed on the day attributed to the agent or team (each once)."),
        ("tickets_solved", "Tickets solved", "Tickets first solved on the day."),
        ("calls_answered", "Calls answered", "Answered calls that ended on the day."),
    )
)


def metrics(kind: MetricKind | None = None) -> tuple[Metric, ...]:
    """The families' metrics (of one kind), in catalogue order."""
    return tuple(m for m in METRICS if kind is None or m.kind == kind)


def rate_metrics() -> tuple[str, ...]:
    return tuple(m.name for m in metrics("rate"))


def headline_metrics() -> tuple[str, ...]:
    """The rates shown first (report headline, run summary, quickstart), in catalogue order."""
    return tuple(m.name for m in metrics("rate") if m.headline)


def metric(name: str) -> Metric:
    for m in (*METRICS, *VOLUMES):
        if m.name == name:
            return m
    raise KeyError(f"no metric {name!r} in the catalogue")


# --- tables ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    description: str
    values: tuple[str, ...] = ()  # the column's vocabulary, when it has one


@dataclass(frozen=True)
class Table:
    name: str
    grain: str  # what one row is
    description: str
    key: tuple[str, ...]  # unique per row (unless `unique` is False); also the publish sort order
    columns: tuple[Column, ...]
    # computed by run_audit, by ingestion, per run, rolled up from published days, or from the
    # canonical store
    source: Literal["audit", "ingest", "run", "period", "store"]
    write: Literal[
        "replace_day", "append", "merge", "replace_periods", "replace_changed_days", "replace_table"
    ] = "replace_day"
    # False: the key is only the publish sort order; equal rows are distinct observations
    unique: bool = True
    partition_by: tuple[str, ...] = (PARTITION,)
    docs: str = ""  # where the docs define its rows, relative to docs/

    @property
    def suite(self) -> str:
        """The Great Expectations suite that validates it (expectations/<name>.py)."""
        return self.name

    @property
    def schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.columns})

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


RUN_ID = Column("run_id", pl.String(), "The run that published the row (the Prefect flow run id).")
POLICY_VERSION = Column(
    "policy_version",
    pl.String(),
    "The `version` of the audit policy the row was computed with (docs/policy.md); the run's "
    "manifest row also has the policy's digest.",
)
# Columns publishing sets on every row (warehouse/publish.stage, warehouse/periods.refresh_periods),
# not the transforms. Tables computed without the policy (quarantine, agents, teams) have no
# policy_version; the manifest has its own.
PUBLISHING_COLUMNS = (POLICY_VERSION.name, RUN_ID.name)
# A rate metric's parts (transforms.stats.RATE_PARTS), each published as `rate_column(m, part)`.
RATE_SUFFIXES: Mapping[str, tuple[pl.DataType, str]] = {
    "numerator": (pl.Int64(), "numerator"),
    "denominator": (pl.Int64(), "denominator"),
    "rate": (pl.Float64(), "numerator / denominator; null when the denominator is 0"),
    "ci_low": (pl.Float64(), "lower bound of the 95% Wilson interval"),
    "ci_high": (pl.Float64(), "upper bound of the 95% Wilson interval"),
    "low_volume": (pl.Boolean(), "true when the denominator is below the policy's min_volume"),
}
STAT_NAMES = {"median": "median", "p90": "90th percentile (linear)", "mean": "mean"}


def _metric_columns(m: Metric) -> list[Column]:
    """A metric's scorecard columns, described from its declaration."""
    if m.kind == "rate":
        return [
            Column(rate_column(m.name, suffix), dtype, f"{m.label}: {what}. {m.description}")
            for suffix, (dtype, what) in RATE_SUFFIXES.items()
        ]
    if m.kind == "measure":
        return [
            Column(f"{m.name}_{stat}", pl.Float64(), f"{m.label}: {STAT_NAMES[stat]}. {m.description}")
            for stat in m.stats
        ]
    if m.kind == "ratio":
        numerator, denominator = metric(m.numerator), metric(m.denominator)
        return [
            Column(m.numerator, pl.Int64(), f"Sum of {numerator.label.lower()}. {numerator.description}"),
            Column(
                "talk_minutes", pl.Float64(), f"Sum of {denominator.name} / 60. {denominator.description}"
            ),
            Column(m.name, pl.Float64(), m.description),
        ]
    return [Column(m.name, pl.Int64(), m.description)]


def scorecard_columns(level: Literal["agent", "team"]) -> tuple[Column, ...]:
    """A daily scorecard's columns in publish order: keys, volumes, then each kind of metric in
    catalogue order (rates, measures, ratios, counts), then run_id."""
    keys = [Column(PARTITION, pl.Date(), "The audit day (business time zone).")]
    if level == "agent":
        keys.append(Column("agent_id", pl.String(), "The agent, as the exports name them."))
        team = "The team the agent worked in most that day (ties: smallest team_id)."
    else:
        team = "The team (null: contacts of agents without a known team)."
    keys.append(Column("team_id", pl.String(), team))
    body = [
        c for kind in ("rate", "measure", "ratio", "count") for m in metrics(kind) for c in _metric_columns(m)
    ]
    volumes = [Column(m.name, pl.Int64(), m.description) for m in VOLUMES]
    return (*keys, *volumes, *body, WITHHELD_METRICS, POLICY_VERSION, RUN_ID)


WITHHELD_METRICS = Column(
    "withheld_metrics",
    pl.List(pl.String()),
    "Metrics whose columns are null on this row because the inputs cannot support them, each as "
    "'<metric>: <why>' (a vendor mapping that names no follow-up tag, no escalation group or queue, "
    "...: docs/vendors.md). Empty: every metric was computed.",
)


def metric_column_names(name: str) -> list[str]:
    """The scorecard columns of one metric (its rate parts, statistics or count)."""
    m = metric(name)
    columns = [c.name for c in _metric_columns(m)]
    return [c for c in columns if c != "talk_minutes"] if m.kind == "ratio" else columns


def _published(
    source: pl.Schema,
    descriptions: Mapping[str, str],
    values: Mapping[str, tuple[str, ...]],
    *,
    policy: bool = True,
) -> tuple[Column, ...]:
    """The columns a frame of `source` schema is published with: customer_id becomes its keyed
    pseudonym customer_key, free text is dropped, policy_version (`policy`: the rows depend on the
    policy; unless the frame has it) and run_id are appended (warehouse/publish.stage)."""
    published = {CUSTOMER_KEY if n == CUSTOMER_ID else n for n in source if n not in FREE_TEXT_COLUMNS}
    stray = sorted(set(descriptions) - published - {PARTITION})
    if stray:
        raise ValueError(f"descriptions of columns that are not published: {stray}")
    columns = []
    for name, dtype in source.items():
        if name in FREE_TEXT_COLUMNS:
            continue
        name = CUSTOMER_KEY if name == CUSTOMER_ID else name
        columns.append(Column(name, dtype, descriptions[name], values.get(name, ())))
    if PARTITION not in source:
        columns.append(Column(PARTITION, pl.Date(), descriptions[PARTITION]))
    if policy and POLICY_VERSION.name not in source:
        columns.append(POLICY_VERSION)
    return (*columns, RUN_ID)


CUSTOMER_KEY_TEXT = "HMAC-SHA256 of the customer id with the deployment's secret key (hex): a pseudonym."
CONTACT_TYPES = ("ticket", "call")

FOLLOW_UP_AUDIT = Table(
    name="follow_up_audit",
    grain="eligible contact closed on the audit day",
    description="Every contact that needed a follow-up, whether an agent followed up in time, and "
    "the evidence.",
    docs="metrics.md#1-follow-up",
    key=(PARTITION, "contact_type", "contact_id"),
    source="audit",
    columns=_published(
        follow_up.EVIDENCE_SCHEMA,
        {
            PARTITION: "The audit day: the day the contact closed (business time zone).",
            "contact_id": "The ticket_id or call_id.",
            "contact_type": "ticket or call.",
            "agent_id": "The agent the contact is attributed to (solver, or assignee at the solve; the call's agent).",
            "team_id": "The agent's team at the close.",
            CUSTOMER_KEY: CUSTOMER_KEY_TEXT,
            "category": "The contact's category.",
            "eligibility": "Why it needed a follow-up: category, priority or callback_promised.",
            "closed_at": "When the contact ended (first solve; call end), UTC.",
            "window_end_at": "End of its follow-up window (inclusive), UTC.",
            "status": "met, missed, or pending while the window is open at the data cut-off.",
            "follow_up_id": "The earliest follow-up in the window: a ticket event_id or a call_id.",
            "follow_up_at": "When that follow-up happened, UTC.",
            "hours_to_follow_up": "Elapsed hours from closed_at to follow_up_at.",
            "is_customer_came_back_first": "The customer came back (new ticket, inbound call, comment) before the first follow-up.",
        },
        {
            "contact_type": CONTACT_TYPES,
            "eligibility": follow_up.ELIGIBILITY_REASONS,
            "status": follow_up.STATUSES,
        },
    ),
)

ESCALATION_AUDIT = Table(
    name="escalation_audit",
    grain="contact closed on the audit day with an escalation signal or an escalation",
    description="Signals that a contact needed a supervisor, whether and when it was escalated, "
    "its class and the call-conduct flags.",
    docs="metrics.md#2-escalation-handling",
    key=(PARTITION, "contact_type", "contact_id"),
    source="audit",
    columns=_published(
        escalation.EVIDENCE_SCHEMA,
        {
            PARTITION: "The audit day: the day the contact closed (business time zone).",
            "contact_id": "The ticket_id or call_id.",
            "contact_type": "ticket or call.",
            "agent_id": "The agent the contact is attributed to.",
            "team_id": "The agent's team at the close.",
            CUSTOMER_KEY: CUSTOMER_KEY_TEXT,
            "category": "The contact's category.",
            "signals": "Signals that it needed a supervisor, alphabetical: customer_request, repeat_contact, started_negative, urgent.",
            "escalation_class": "timely, late, missed, handled, unprompted; pending while the came-back window is open.",
            "is_escalated": "Escalated at or before the first solve (tickets), or escalated on the call.",
            "is_started_negative": "Calls: sentiment_start at or below escalation.negative_sentiment.",
            "is_de_escalated": "Calls: started negative and ended at sentiment 0 or above.",
            "is_lost_control": "Calls: sentiment fell by lost_control_drop and ended at or below lost_control_end.",
            "is_argumentative": "Calls: agent interruptions at or above argumentative_interruptions and sentiment fell.",
            "requested_at": "The customer's first request for a supervisor, UTC.",
            "escalated_at": "The escalation, UTC.",
            "hours_request_to_escalation": "Elapsed hours from requested_at to escalated_at.",
            "closed_at": "When the contact ended, UTC.",
            "came_back_at": "First return of the customer (same category) or reopen within the came-back window, UTC.",
        },
        {
            "contact_type": CONTACT_TYPES,
            "escalation_class": escalation.ESCALATION_CLASSES,
            "signals": escalation.SIGNALS,
        },
    ),
)

CONCESSION_AUDIT = Table(
    name="concession_audit",
    grain="concession granted on the audit day",
    description="Every concession with its amount in the policy currency and its policy check.",
    docs="metrics.md#3-inconsistent-concessions",
    key=(PARTITION, "concession_id"),
    source="audit",
    columns=_published(
        concessions.AUDIT_SCHEMA,
        {
            PARTITION: "The day it was granted (business time zone).",
            "concession_id": "The concession ticket event's event_id, or the call_id.",
            "contact_id": "The ticket or call it was granted on.",
            "contact_type": "ticket or call.",
            "agent_id": "The granting agent (the event's agent or supervisor actor; the call's agent).",
            "team_id": "The granting agent's team at the time.",
            CUSTOMER_KEY: CUSTOMER_KEY_TEXT,
            "category": "The contact's category.",
            "customer_tier": "The customer's tier.",
            "concession_type": "credit, refund, free_service, replacement, discount, fee_waiver, ...",
            "amount": "The amount in its own currency (null for a call concession recorded without one: its cap is then not checked).",
            "currency": "ISO currency code of amount (null for a call concession recorded without one: an unknown_currency violation).",
            "amount_policy_currency": "The amount in the policy currency (null for an unknown currency).",
            "approved_by": "Who approved it (an agent or supervisor id), if anyone.",
            "granted_at": "When it was granted, UTC.",
            "violations": "Policy violations in this order, empty when within policy: "
            + ", ".join(concessions.VIOLATIONS)
            + ".",
            "is_within_policy": "True when violations is empty.",
            "policy_version": "The policy version the check used.",
        },
        {"contact_type": CONTACT_TYPES, "violations": concessions.VIOLATIONS},
    ),
)

CONCESSION_FLAGS = Table(
    name="concession_flags",
    grain="flag raised on the audit day (agent, customer or concession)",
    description="Agents granting more (or less) often than peers on the same case mix, amounts out "
    "of line, and repeat beneficiaries, with their statistics and evidence ids.",
    docs="metrics.md#3-inconsistent-concessions",
    key=(PARTITION, "flag_type", "subject_type", "subject_id"),
    source="audit",
    columns=_published(
        concessions.FLAGS_SCHEMA,
        {
            PARTITION: "The audit day the flag was raised on.",
            "flag_type": "high_concession_rate, low_concession_rate (informational), amount_outlier or repeat_beneficiary.",
            "subject_type": "agent, customer or concession.",
            "subject_id": "The agent id, the customer's pseudonym, or the concession id.",
            "observed": "Rate flags: concessions observed (O); amount_outlier: the amount; repeat_beneficiary: concessions received.",
            "expected": "Rate flags: concessions expected from peers (E); amount_outlier: the group median.",
            "statistic": "Rate flags: z = (O - E) / sqrt(V); amount_outlier: the robust z-score.",
            "p_value": "Rate flags: one-sided p-value.",
            "q_value": "Rate flags: Benjamini-Hochberg q-value across tested agents.",
            "threshold": "The policy threshold the flag was decided by: rate flags, the q cut-off the "
            "Benjamini-Hochberg q_value was compared with (concessions.bh_q); amount_outlier, the robust z the "
            "statistic reached (outlier_robust_z); repeat_beneficiary, the count of concessions "
            "(concessions.repeat_beneficiary_min).",
            "evidence_ids": "The contacts or concessions behind the flag.",
            "window_start": "First day of the trailing window.",
            "window_end": "Last day of the trailing window (the audit day).",
            "agent_id": "The agent flagged, or who granted the flagged concession.",
            "team_id": "That agent's team.",
            CUSTOMER_KEY: "Customer flags and amount outliers: the customer's pseudonym.",
            "contacts_in_window": "Rate flags: contacts the agent closed in the window.",
            "distinct_agents": "repeat_beneficiary: distinct granting agents.",
            "granted_on": "amount_outlier: the day the concession was granted. Earlier than the audit day "
            "for a late test: its group first reached outlier_min_group on the audit day.",
            "policy_version": "The policy version used.",
        },
        {"flag_type": concessions.FLAG_TYPES, "subject_type": concessions.SUBJECT_TYPES},
    ),
)

QUARANTINE = Table(
    name="quarantine",
    grain="rejected input row or file, once, in the partition of the day its object was exported",
    description="Every input row or whole file the run rejected, where it came from and why; no raw values.",
    docs="contract.md#what-is-quarantined-and-why",
    key=(PARTITION, "entity", "object_key", "row_number", "reason"),
    source="ingest",
    columns=_published(
        quarantine_reasons.QUARANTINE_SCHEMA,
        {
            PARTITION: "The export day of the object it came from (each rejected row is in one partition; "
            "changed 2026-12-07: it was in every audit day whose export range read the object). A folder "
            "that is not an export day has none: it is listed on every day a run that ingested publishes.",
            "entity": "tickets, ticket_events or calls.",
            "object_key": "The export object's key in the landing store.",
            "row_number": "1-based data row in the object; null for a whole file.",
            "reason": "The reason code (see docs/contract.md).",
            "detail": "Which columns and rule; never the raw value.",
        },
        {"entity": tuple(ENTITIES), "reason": quarantine_reasons.REASONS},
        policy=False,
    ),
)

INPUT_FILE_SCHEMA = pl.Schema(
    {
        "entity": pl.String(),
        "object_key": pl.String(),
        "etag": pl.String(),
        "size_bytes": pl.Int64(),
        "export_date": pl.Date(),
        "rows_read": pl.Int64(),
        "rows_accepted": pl.Int64(),  # includes rows later superseded by a newer version
        "rows_quarantined": pl.Int64(),
        "rows_duplicate": pl.Int64(),
        "rows_superseded": pl.Int64(),
        "schema_drift": pl.List(pl.String()),  # unknown extra columns, reported once per file
        "file_error": pl.String(),  # reason when the whole file was quarantined
    }
)
VALIDATION_SCHEMA = pl.Struct(
    {
        "suite": pl.String(),
        "success": pl.Boolean(),
        "critical_passed": pl.Boolean(),
        "rows": pl.Int64(),
        "evaluated": pl.Int64(),
        "successful": pl.Int64(),
        "unsuccessful": pl.Int64(),
    }
)
TABLE_VERSION_SCHEMA = pl.Struct({"table": pl.String(), "version": pl.Int64(), "rows": pl.Int64()})
ROW_COUNTS = ("rows_read", "rows_accepted", "rows_quarantined", "rows_duplicate")
RUN_STATUSES = ("pending", "publishing", "succeeded", "failed", "rolled_back")

RUN_MANIFEST = Table(
    name=MANIFEST_TABLE,
    grain="run (one row per publish attempt and step)",
    description="What each run read, checked and wrote: the auditor's record.",
    docs="auditing.md#the-run-manifest",
    key=(PARTITION, "run_id", "attempt", "status"),
    source="run",
    write="append",
    columns=(
        Column(PARTITION, pl.Date(), "The audit day the run audited."),
        RUN_ID,
        Column(
            "status",
            pl.String(),
            "publishing (the attempt's intent, written before its first table commit), "
            "succeeded (its publish point: the day is the tables' versions it lists), failed, or "
            "rolled_back (an attempt that stopped between the two; its commits were undone). "
            "pending: the draft the gate validates.",
            RUN_STATUSES,
        ),
        Column(
            "attempt",
            pl.Int64(),
            "The publish attempt: shared by its rows, and the Delta app transaction version of its "
            "table commits (docs/auditing.md, publishing a day).",
        ),
        Column("failure_reason", pl.String(), "Why a failed run failed."),
        Column("started_at", pl.Datetime("us", "UTC"), "When the run started (wall clock)."),
        Column("finished_at", pl.Datetime("us", "UTC"), "When the run finished (wall clock)."),
        Column("policy_version", pl.String(), "The policy file's version."),
        Column("policy_digest", pl.String(), "Hash of the effective policy content."),
        Column("config_hash", pl.String(), "Hash of the effective settings and policy."),
        Column("package_version", pl.String(), "The installed package version."),
        Column("git_commit", pl.String(), "The checked-out commit (null for an installed wheel)."),
        Column(
            "code_version",
            pl.String(),
            "package_version+g<commit>, with .d<digest> for uncommitted changes; the version alone from a wheel.",
        ),
        Column("input_files", pl.Int64(), "Input objects listed for the run."),
        *(
            Column(c, pl.Int64(), f"Total {c.removeprefix('rows_')} rows over the inputs.")
            for c in ROW_COUNTS
        ),
        Column(
            "inputs",
            pl.List(pl.Struct(INPUT_FILE_SCHEMA)),
            "Per input object: " + ", ".join(INPUT_FILE_SCHEMA.names()) + ".",
        ),
        Column("is_critical_passed", pl.Boolean(), "Every critical expectation passed."),
        Column(
            "validation",
            pl.List(VALIDATION_SCHEMA),
            "Per suite: " + ", ".join(VALIDATION_SCHEMA.to_schema()) + ".",
        ),
        Column("failed_expectations", pl.List(pl.String()), "Critical expectations that failed, described."),
        Column("tables", pl.List(TABLE_VERSION_SCHEMA), "Per table: the Delta version written and its rows."),
        Column("data_docs_uri", pl.String(), "The run's Data Docs."),
        Column(
            "store_versions",
            pl.List(pl.Struct({"table": pl.String(), "version": pl.Int64()})),
            "The canonical store's tables and the Delta version of each the audit read.",
        ),
        Column(
            "pseudonym_key_id",
            pl.String(),
            "Which pseudonym key made the run's customer_key values: an HMAC of a fixed text under"
            " the key (never the key); it changes when the key is rotated.",
        ),
    ),
)


def _scorecard(level: Literal["agent", "team"]) -> Table:
    key = "agent_id" if level == "agent" else "team_id"
    return Table(
        name=f"{level}_scorecard",
        grain=f"audit day and {level}",
        description=f"Every metric per {level} and day, summed from the families' parts: rates with "
        "their numerator, denominator, Wilson interval and low-volume marker, medians, counts and "
        "volumes.",
        docs="metrics.md#scorecards",
        key=(PARTITION, key),
        source="audit",
        columns=scorecard_columns(level),
    )


METRIC_OBSERVATIONS = Table(
    name="metric_observations",
    grain="contact in a rate's denominator, or observation of a median / p90 / mean, on the audit day",
    description="What a day's scorecard rows cannot be summed back into: every contact behind every "
    "rate (the evidence of a peer flag) and every observation behind a median or p90 (a week's "
    "median is computed from these, never from daily medians). Not unique: two equal "
    "observations of one agent are two rows.",
    docs="metrics.md#period-scorecards",
    key=(PARTITION, "metric", "kind", "agent_id", "team_id", "contact_id", "value"),
    unique=False,
    source="audit",
    columns=_published(
        OBSERVATIONS_SCHEMA,
        {
            PARTITION: "The audit day the scorecards counted it on.",
            "agent_id": "The agent it is attributed to (null: the team's only).",
            "team_id": "The team it is attributed to (null: the agent's only).",
            "metric": "The rate metric (numerator and denominator rows) or the measure (measure rows).",
            "kind": "numerator: a contact counted in the rate's numerator (and denominator); "
            "denominator: a contact counted in its denominator only; measure: one observation of a measure.",
            "contact_id": "numerator and denominator rows: the ticket_id or call_id counted.",
            "value": "numerator rows: 1 and denominator rows: 0 (what it added to the numerator; a day's "
            "rows of a rate sum to the scorecard's numerator, and count to its denominator); "
            "measure rows: the observed value.",
        },
        {"kind": OBSERVATION_KINDS},
    ),
)

_ABANDONMENT = "Abandonment"
QUEUE_SCORECARD = Table(
    name="queue_scorecard",
    grain="audit day, queue and team",
    description="Queue wait and abandonment per queue and team (the team scorecard has them per team): "
    "the inbound and transfer legs that ended on the day, by the call's queue and team.",
    docs="metrics.md#calls",
    key=(PARTITION, "queue", "team_id"),
    source="audit",
    columns=_published(
        resolution.QUEUE_SCORECARD_SCHEMA,
        {
            PARTITION: "The audit day (business time zone) the legs ended on.",
            "queue": "The call's queue (null: legs whose export names no queue).",
            "team_id": "The call's team, the queue's (null: legs whose export names no team).",
            **{
                rate_column("abandonment", part): f"{_ABANDONMENT}: {what}."
                for part, (_, what) in RATE_SUFFIXES.items()
            },
            rate_column("abandonment", "numerator"): f"{_ABANDONMENT}: queued legs never answered.",
            rate_column("abandonment", "denominator"): f"{_ABANDONMENT}: queued legs (inbound and transfer).",
            "queue_wait_seconds_median": "Queue wait (seconds): median of answered_at - initiated_at of the "
            "answered legs.",
            "queue_wait_seconds_p90": "Queue wait (seconds): 90th percentile (linear) of the same.",
        },
        {},
    ),
)

PERIOD_TEXT = {
    "period": "week (ISO, Monday to Sunday), month (calendar), or rolling_28d (the 28 days ending on "
    "period_end, one per published audit day).",
    "period_start": "First audit day of the period.",
    "period_end": "Last audit day of the period (inclusive).",
    "published_days": "Audit days of the period that are published (what the sums cover).",
    "source_digest": "Digest of the publish points (day, attempt) the row was computed from: it "
    "changes when any day of the period is re-published, which is how a refresh finds stale periods.",
    "active_days": "Days of the period with a daily scorecard row for this agent or team.",
}


def _period_scorecard(level: Literal["agent", "team"]) -> Table:
    """A daily scorecard's columns, keyed by period instead of day."""
    daily = {c.name: c for c in scorecard_columns(level)}
    ids = ["agent_id", "team_id"] if level == "agent" else ["team_id"]
    team = "The agent's team on the latest day of the period they were active." if level == "agent" else None
    keys = [
        Column(n, pl.String() if n == "period" else pl.Date(), PERIOD_TEXT[n])
        for n in ("period", "period_start", "period_end")
    ]
    id_columns = [replace(daily[n], description=team) if n == "team_id" and team else daily[n] for n in ids]
    carried = [
        Column("published_days", pl.Int64(), PERIOD_TEXT["published_days"]),
        Column("source_digest", pl.String(), PERIOD_TEXT["source_digest"]),
        Column("active_days", pl.Int64(), PERIOD_TEXT["active_days"]),
    ]
    body = [
        replace(c, description=c.description.replace("on the day", "in the period"))
        for n, c in daily.items()
        if n not in {PARTITION, *ids}
    ]
    return Table(
        name=f"{level}_period_scorecard",
        grain=f"period and {level}",
        description=f"The {level} scorecard by ISO week, calendar month and rolling 28 days: rates from "
        "the period's summed numerators and denominators (never averaged), with Wilson intervals and "
        "low-volume markers; medians and p90s from the period's observations. Refreshed whenever a "
        "day inside the period is published.",
        docs="metrics.md#period-scorecards",
        key=("period", "period_start", f"{level}_id"),
        source="period",
        write="replace_periods",
        partition_by=("period",),
        columns=(
            replace(keys[0], values=PERIOD_KINDS),
            *keys[1:],
            *id_columns,
            *carried,
            *body,
        ),
    )


def _peer_columns() -> list[Column]:
    """The peer transform's columns, described by it, with the period's own keys."""
    text = {
        **PEER_COMPARISON_DESCRIPTIONS,
        **peers.LIFECYCLE_DESCRIPTIONS,
        **PERIOD_TEXT,
        "period": "Always rolling_28d.",
    }
    values = {
        "period": ("rolling_28d",),
        "comparison": peers.COMPARISONS,
        "flag_type": peers.FLAG_TYPES,
        "status": peers.STATUSES,
    }
    return [Column(n, t, text[n], values.get(n, ())) for n, t in ROLLING_PEERS_SCHEMA.items()]


PEER_COMPARISON = Table(
    name="peer_comparison",
    grain="rolling 28 days, rate metric, comparison (centre or team) and agent tested",
    description="Every rate of every agent against the centre and their team over the rolling 28 "
    "days ending on each audit day: the funnel plot's points and limits (Spiegelhalter), the "
    "over-dispersion-adjusted z, p and Benjamini-Hochberg q, and for the flagged agents "
    "(below_peers / above_peers) the contacts behind the flag. Refreshed with the period scorecards.",
    docs="metrics.md#peers",
    key=("period", "period_start", "metric", "comparison", "agent_id"),
    source="period",
    write="replace_periods",
    partition_by=("period",),
    columns=(*_peer_columns(), POLICY_VERSION, RUN_ID),
)


CONCESSION_FLAG_LIFECYCLE = Table(
    name="concession_flag_lifecycle",
    grain="concession flag on an audit day, or the day after a flag stopped",
    description="Whether each concession flag is new, ongoing or cleared, since when and for how many "
    "published days in a row; join it to concession_flags on its key. Kept apart from "
    "concession_flags because a re-audit of one day changes the lifecycle of the days after it, "
    "and a published day is only ever rewritten by its own audit: this table is recomputed from "
    "the published days' flags after every run.",
    docs="metrics.md#flag-lifecycle",
    key=(PARTITION, "flag_type", "subject_type", "subject_id"),
    source="period",
    write="replace_changed_days",
    columns=(
        Column(PARTITION, pl.Date(), "The audit day (of the flag, or of its clearing)."),
        CONCESSION_FLAGS.column("flag_type"),
        CONCESSION_FLAGS.column("subject_type"),
        CONCESSION_FLAGS.column("subject_id"),
        Column(
            "status",
            pl.String(),
            "new: flagged today and not on the previous published day (or another flag type); ongoing: "
            "the same flag on the previous published day too; cleared: flagged on the previous "
            "published day, not today (the day after it stops).",
            peers.STATUSES,
        ),
        Column(
            "first_flagged_on",
            pl.Date(),
            "First day of the unbroken run of this flag (of the run that ended, when cleared).",
        ),
        Column(
            "consecutive_days",
            pl.Int64(),
            "Published days in a row the flag has held, today included (the run's length, when cleared).",
        ),
        RUN_ID,
    ),
)


_SEEN = "UTC day of the {} record naming them (a ticket event, assignment, approval, ticket or call)."
AGENTS = Table(
    name="agents",
    grain="agent or supervisor named in the exports",
    description="Every support person the ingested exports name (acting on a ticket event, assigned "
    "a ticket, approving a concession, handling a call), with their team and role now and the first "
    "and last day they were seen. Join the scorecards, evidence and peer comparison on agent_id. "
    "Recomputed from the canonical store by the refresh at the end of the audit run after an ingest changed it.",
    docs="decisions/catalogue-and-layout.md#the-agents-and-teams-tables",
    key=("agent_id",),
    source="store",
    write="replace_table",
    partition_by=(),
    columns=(
        Column("agent_id", pl.String(), "Agent or supervisor id, as the exports name them."),
        Column(
            "team_id",
            pl.String(),
            "Their team now: the team of their latest assignment with a team, else of their latest "
            "ticket or call with one (the rule the metrics attribute teams by); null when no record "
            "gives one.",
        ),
        Column(
            "role",
            pl.String(),
            "supervisor or agent: the actor_role of the latest ticket event they acted in; supervisor "
            "for someone who only ever approved concessions; agent for someone seen only on calls or "
            "as a ticket's assignee.",
            dimensions.ROLES,
        ),
        Column("first_seen_on", pl.Date(), _SEEN.format("first")),
        Column("last_seen_on", pl.Date(), _SEEN.format("last")),
        RUN_ID,
    ),
)

TEAMS = Table(
    name="teams",
    grain="team named in the exports",
    description="Every team an assignment, a ticket or a call names, the first and last day one did, "
    "and how many agents and supervisors are in it now (by agents.team_id). Join the team scorecards "
    "on team_id. Recomputed from the canonical store by the refresh at the end of the audit run after "
    "an ingest changed it.",
    docs="decisions/catalogue-and-layout.md#the-agents-and-teams-tables",
    key=("team_id",),
    source="store",
    write="replace_table",
    partition_by=(),
    columns=(
        Column("team_id", pl.String(), "Team id, as the exports name it."),
        Column(
            "first_seen_on", pl.Date(), "UTC day of the first assignment, ticket or call naming the team."
        ),
        Column("last_seen_on", pl.Date(), "UTC day of the last assignment, ticket or call naming the team."),
        Column("agents", pl.Int64(), "People whose current team it is, in the role agent (agents table)."),
        Column("supervisors", pl.Int64(), "People whose current team it is, in the role supervisor."),
        RUN_ID,
    ),
)


def build_tables() -> Mapping[str, Table]:
    """Published tables in publishing order (the scorecards' columns follow `METRICS`)."""
    return {
        t.name: t
        for t in (
            _scorecard("agent"),
            _scorecard("team"),
            QUEUE_SCORECARD,
            FOLLOW_UP_AUDIT,
            ESCALATION_AUDIT,
            CONCESSION_AUDIT,
            CONCESSION_FLAGS,
            METRIC_OBSERVATIONS,
            QUARANTINE,
            RUN_MANIFEST,
            _period_scorecard("agent"),
            _period_scorecard("team"),
            PEER_COMPARISON,
            CONCESSION_FLAG_LIFECYCLE,
            AGENTS,
            TEAMS,
        )
    }


TABLES: Mapping[str, Table] = build_tables()
# Tables whose audit_date partition a run replaces, in commit order, and those run_audit computes.
AUDIT_TABLES = tuple(name for name, t in TABLES.items() if t.write == "replace_day")
METRIC_TABLES = tuple(name for name, t in TABLES.items() if t.source == "audit")
# Rolled up from the published days after each publish (warehouse/periods.py).
PERIOD_TABLES = tuple(name for name, t in TABLES.items() if t.source == "period")
# Recomputed from the canonical store when an ingest changed it (warehouse/dimensions.py).
DIMENSION_TABLES = tuple(name for name, t in TABLES.items() if t.source == "store")


# --- the canonical store ----------------------------------------------------------------------------
# Not published (it holds raw customer ids and free text): what ingestion keeps so that each export
# object is read, validated and merged once, and what every audit day reads (docs/auditing.md).

RECORD_DATE = "record_date"  # partition: the UTC day of the record's own time
SOURCE_ID = "source_id"  # the export object a row came from (ledger key)
LEDGER_TABLE = "ingest_ledger"
REJECTED_TABLE = "rejected_rows"
RECORD_TIME = {"tickets": "created_at", "ticket_events": "occurred_at", "calls": "initiated_at"}
OUTCOMES = ("kept", "superseded", "duplicate", "conflict")
OBJECT_STATUSES = ("ingested", "deleted")

LEDGER_SCHEMA = pl.Schema(
    {
        SOURCE_ID: pl.Int64(),
        "entity": pl.String(),
        "object_key": pl.String(),
        "export_date": pl.Date(),
        "etag": pl.String(),
        "fingerprint": pl.String(),
        "size_bytes": pl.Int64(),
        "status": pl.String(),
        "rows_read": pl.Int64(),
        "rows_accepted": pl.Int64(),
        "rows_quarantined": pl.Int64(),
        "rows_duplicate": pl.Int64(),
        "rows_superseded": pl.Int64(),
        "schema_drift": pl.List(pl.String()),
        "file_error": pl.String(),
        "reasons": pl.List(pl.Struct({"reason": pl.String(), "rows": pl.Int64()})),
        "first_record_date": pl.Date(),
        "last_record_date": pl.Date(),
        "ingested_run_id": pl.String(),
        "ingested_at": pl.Datetime("us", "UTC"),
        "updated_run_id": pl.String(),
    }
)
_LEDGER_TEXT = {
    SOURCE_ID: "Stable id of the object key (first 8 bytes of its SHA-256): the rows' lineage.",
    "entity": "tickets, ticket_events or calls.",
    "object_key": "The object's key in the landing store.",
    "export_date": "The export day of its folder.",
    "etag": "Content identity: S3's ETag, a folder file's MD5.",
    "fingerprint": "Cheap change signature from the listing (S3 ETag; folder: size, modification and status-change times).",
    "size_bytes": "Object size.",
    "status": "ingested (its rows are in the store) or deleted (gone from the landing; its rows removed).",
    "rows_read": "Data rows read from the object.",
    "rows_accepted": "Rows accepted into the store (the kept ones and superseded older versions).",
    "rows_quarantined": "Rows rejected (staging, whole file, conflicting duplicates).",
    "rows_duplicate": "Exact re-deliveries of a row held from another object.",
    "rows_superseded": "Accepted rows a newer version of the same ticket or call replaced.",
    "schema_drift": "Unknown extra columns of the object, reported once.",
    "file_error": "Why the whole object was quarantined, if it was.",
    "reasons": "Quarantined rows by reason.",
    "first_record_date": "Earliest UTC day of its accepted rows' own times: the audit days it can change start here.",
    "last_record_date": "Latest UTC day of its accepted rows' own times.",
    "ingested_run_id": "The run that read this version of the object.",
    "ingested_at": "When it was read.",
    "updated_run_id": "The run that last changed its counts (a later object can supersede its rows).",
}


OUTCOME = "dedup_outcome"


def _store_entity(entity: str) -> Table:
    schema = ENTITIES[entity]
    columns = [
        Column(name, dtype, f"Contract field of {entity} (docs/contract.md).")
        for name, dtype in schema.polars_schema.items()
    ]
    columns += [
        Column("export_date", pl.Date(), "Export day of the object the row came from."),
        Column(SOURCE_ID, pl.Int64(), "The object it came from (ingest_ledger.source_id)."),
        Column("source_row", pl.Int64(), "1-based data row within that object."),
        Column("detail", pl.String(), "For a conflict: the kept row and the columns that differ."),
        Column(RECORD_DATE, pl.Date(), f"UTC day of {RECORD_TIME[entity]}: the first partition column."),
        Column(
            OUTCOME,
            pl.String(),
            f"kept: the canonical row (one per {schema.key}); otherwise why it is not: an older version, "
            "an exact re-delivery or a conflicting duplicate. The second partition column.",
            OUTCOMES,
        ),
    ]
    return Table(
        name=entity,
        grain=f"accepted {entity} row (the canonical one of each {schema.key}, and every other copy)",
        description=(
            f"Every accepted row of the export objects read, with what became of it: the canonical {entity} "
            f"are the rows with {OUTCOME} = 'kept' (their own partitions), one per {schema.key}. Keeping the "
            "other copies lets a later object merge as if every object had been read at once."
        ),
        key=(SOURCE_ID, "source_row"),
        columns=tuple(columns),
        source="ingest",
        write="merge",
        partition_by=(RECORD_DATE, OUTCOME),
        docs="auditing.md#the-canonical-store-and-the-ingest-ledger",
    )


def build_store_tables() -> Mapping[str, Table]:
    """The canonical store's tables (not published; restricted like the landing store)."""
    tables = [_store_entity(e) for e in ("tickets", "ticket_events", "calls")]
    tables.append(
        Table(
            name=LEDGER_TABLE,
            grain="export object (its current version)",
            description="Every export object read: its identity and version, what became of its rows, and the run that read it.",
            key=(SOURCE_ID,),
            columns=tuple(
                Column(n, t, _LEDGER_TEXT[n], OBJECT_STATUSES if n == "status" else ())
                for n, t in LEDGER_SCHEMA.items()
            ),
            source="ingest",
            write="merge",
            partition_by=(),
            docs="auditing.md#the-canonical-store-and-the-ingest-ledger",
        )
    )
    tables.append(
        Table(
            name=REJECTED_TABLE,
            grain="row or whole object rejected at staging",
            description="Where each rejected row came from and why (no raw values; those are kept in the landing store's quarantine prefix).",
            key=(SOURCE_ID, "row_number", "reason"),
            columns=(
                Column(SOURCE_ID, pl.Int64(), "The object (ingest_ledger.source_id)."),
                *(c for c in QUARANTINE.columns if c.name not in (PARTITION, "run_id")),
                Column("export_date", pl.Date(), "Export day of the object."),
            ),
            source="ingest",
            write="merge",
            partition_by=(),
            docs="auditing.md#the-canonical-store-and-the-ingest-ledger",
        )
    )
    return {t.name: t for t in tables}


STORE_TABLES: Mapping[str, Table] = build_store_tables()
