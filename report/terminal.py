"""Terminal views of a published audit day: the agent scorecard and the concession flags.

`table` is for people (rich tables, low-volume rates marked); `json` and `csv` are for
scripts and carry every published column, never customer ids or free text.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal, TextIO

import polars as pl
from rich.console import Console
from rich.table import Table
from rich.text import Text

import catalogue
from configs.settings import S3Settings
from report import views
from report.render import number, pct, rate_cell
from report.tables import AuditDay, load_audit_day, peer_rows, period_rows
from transforms.parts import OBSERVATIONS_SCHEMA
from transforms.scorecards import period_scorecards
from warehouse.publication import read_published

OutputFormat = Literal["table", "json", "csv"]
Section = Literal["all", "scorecard", "flags"]


class ReportError(RuntimeError):
    """Nothing to show for the request; the message says why (exit status 1)."""


@dataclass(frozen=True)
class TerminalView:
    audit_date: date
    scorecard: pl.DataFrame
    flags: pl.DataFrame
    run: views.RunInfo
    peer_flags: pl.DataFrame = field(default_factory=pl.DataFrame)


def select_view(
    day: AuditDay,
    *,
    agent: str | None,
    team: str | None,
    min_volume: int,
    peer_comparison: pl.DataFrame | None = None,
) -> TerminalView:
    """The day's agent rows (filtered by agent and/or team) and the flags that concern them: the
    concession flags, and the peer flags of the 28 days ending on the day (`peer_comparison`).

    A concession flag concerns the selection when its subject is a selected agent, it names a
    selected agent as the granting one, or any of its evidence ids is a contact or concession of
    a selected agent; a peer flag when its agent is selected.
    """
    if not day.has_audit_tables or day.agent_scorecard is None:
        raise ReportError(f"no audit tables published for {day.audit_date.isoformat()}")
    scorecard = views.complete_rates(day.agent_scorecard, min_volume).sort("agent_id", nulls_last=True)
    if agent is not None:
        scorecard = scorecard.filter(pl.col("agent_id") == agent)
    if team is not None:
        scorecard = scorecard.filter(pl.col("team_id") == team)
    if scorecard.is_empty():
        who = " and ".join(f"{k} {v!r}" for k, v in (("agent", agent), ("team", team)) if v is not None)
        raise ReportError(f"no scorecard row for {who} on {day.audit_date.isoformat()}")
    selected = scorecard.get_column("agent_id").to_list() if agent is not None or team is not None else None
    flags = views.sorted_flags(day.concession_flags)
    if not flags.is_empty():
        if selected is not None:
            flags = _flags_for(flags, day, selected)
        flags = flags.select([c for c in views.FLAG_COLUMNS if c in flags.columns])
    run = views.run_info(day.run_manifest, day.agent_scorecard)
    return TerminalView(day.audit_date, scorecard, flags, run, views.peer_flags(peer_comparison, selected))


def _flags_for(flags: pl.DataFrame, day: AuditDay, agents: list[str]) -> pl.DataFrame:
    ids: set[str] = set()
    for frame, columns in (
        (day.concession_audit, ("concession_id", "contact_id")),
        (day.follow_up_audit, ("contact_id",)),
        (day.escalation_audit, ("contact_id",)),
    ):
        if frame is not None and "agent_id" in frame.columns:
            mine = frame.filter(pl.col("agent_id").is_in(agents))
            for column in columns:
                if column in mine.columns:
                    ids.update(mine.get_column(column).drop_nulls().cast(pl.String).to_list())
    is_agent = (pl.col("subject_type") == "agent") & pl.col("subject_id").is_in(agents)
    has_evidence = pl.col("evidence_ids").list.eval(pl.element().is_in(list(ids))).list.any()
    concerns = is_agent | has_evidence.fill_null(False)
    if "agent_id" in flags.columns:  # a late amount outlier's concession is not in D's concession_audit
        concerns = concerns | ((pl.col("subject_type") == "concession") & pl.col("agent_id").is_in(agents))
    return flags.filter(concerns.fill_null(False))


def report_command(
    audit_date: date,
    *,
    warehouse_uri: str,
    agent: str | None = None,
    team: str | None = None,
    fmt: OutputFormat = "table",
    section: Section | None = None,
    s3: S3Settings | None = None,
    min_volume: int = 20,
    out: TextIO | None = None,
    wide: bool = False,
    period: str = "day",
    span: tuple[date, date] | None = None,
) -> None:
    """Print the scorecard and flags for one audit day; raises ReportError when there is nothing to show.

    `period` (week, month, rolling_28d) prints the published period scorecard holding the day
    instead of the day's; `span` (first, last) the scorecard summed over those days, computed
    here from the published days as the period refresh computes a period. The flags are the day's.

    `section` defaults to both for table and json, and to the scorecard for csv (a CSV
    holds one table; pass `section="flags"` for the flags).
    """
    out = out or sys.stdout
    day = load_audit_day(warehouse_uri, audit_date, s3)
    if period != "day" or span is not None:
        day = replace(day, agent_scorecard=period_scorecard(day, period, span, warehouse_uri, s3, min_volume))
    flags_shown = fmt != "csv" and section in (None, "all", "flags")  # csv: one table, not these
    peers = peer_rows(warehouse_uri, audit_date, s3) if flags_shown else None
    view = select_view(day, agent=agent, team=team, min_volume=min_volume, peer_comparison=peers)
    if fmt == "json":
        out.write(to_json(view, section or "all") + "\n")
    elif fmt == "csv":
        if section == "all":
            raise ReportError("--format csv writes one table: choose --section scorecard or --section flags")
        out.write(to_csv(view.scorecard if section != "flags" else view.flags))
    else:
        console = Console(file=out, width=WIDE if wide else NARROW)
        print_tables(view, section or "all", console, min_volume, wide=wide)


def period_scorecard(
    day: AuditDay,
    period: str,
    span: tuple[date, date] | None,
    warehouse_uri: str,
    s3: S3Settings | None,
    min_volume: int,
) -> pl.DataFrame:
    """The agent rows of a published period (week, month, rolling_28d) holding the day, or of
    `span` rolled up from the published days (rates from sums, quantiles from observations)."""
    if span is not None:
        return span_scorecard(warehouse_uri, span, s3, min_volume)
    rows = period_rows(warehouse_uri, day.audit_date, s3)[period].agents
    if rows is None or rows.is_empty():
        raise ReportError(
            f"no {period} scorecard published for {day.audit_date.isoformat()} (the period refresh runs "
            "at the end of each flow run)"
        )
    return rows


def span_scorecard(
    warehouse_uri: str, span: tuple[date, date], s3: S3Settings | None, min_volume: int
) -> pl.DataFrame:
    first, last = span
    if last < first:
        raise ReportError(f"--from {first} is after --to {last}")
    daily = read_published(warehouse_uri, "agent_scorecard", s3, audit_date=last, since=first)
    if daily is None or daily.is_empty():
        raise ReportError(f"no scorecard published between {first} and {last}")
    # A day published before a metric existed lacks its columns: they count as nothing.
    schema = catalogue.TABLES["agent_scorecard"].schema
    daily = daily.with_columns(pl.lit(None, t).alias(n) for n, t in schema.items() if n not in daily.columns)
    observations = read_published(warehouse_uri, "metric_observations", s3, audit_date=last, since=first)
    if observations is None:
        observations = OBSERVATIONS_SCHEMA.to_frame()
    published = daily["audit_date"].n_unique()
    periods = pl.LazyFrame(
        {"period": ["span"], "period_start": [first], "period_end": [last], "published_days": [published]},
        schema_overrides={"published_days": pl.Int64},
    )
    rolled = period_scorecards(daily.drop("run_id").lazy(), observations.lazy(), periods, min_volume)
    return rolled.collect()


# The table view fits a 120-column terminal: the headline rates only, long cells wrapped, long
# evidence lists cut with a count; `--wide` prints every metric on one line per row.
NARROW, WIDE = 120, 400
EVIDENCE_SHOWN = 5


def _plain(frame: pl.DataFrame) -> list[dict[str, Any]]:
    temporal = [c for c, t in frame.schema.items() if t.is_temporal()]
    return frame.with_columns(pl.col(temporal).cast(pl.String)).to_dicts()


def to_json(view: TerminalView, section: Section) -> str:
    document: dict[str, Any] = {
        "audit_date": view.audit_date.isoformat(),
        "run_id": view.run.run_id,
        "policy_version": view.run.policy_version,
        "validation": view.run.validation,
    }
    if section in ("all", "scorecard"):
        document["scorecard"] = _plain(view.scorecard)
    if section in ("all", "flags"):
        document["flags"] = _plain(view.flags)
        document["peer_flags"] = _plain(view.peer_flags)
    return json.dumps(document, indent=2, allow_nan=False, default=str)


def to_csv(frame: pl.DataFrame) -> str:
    """CSV of a frame; list columns (evidence ids, signals) joined with ';'."""
    lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
    flat = frame.with_columns(pl.col(lists).cast(pl.List(pl.String)).list.join(";")) if lists else frame
    buffer = io.StringIO()
    flat.write_csv(buffer)
    return buffer.getvalue()


def _rate_text(row: dict[str, Any], metric: str) -> Text:
    cell = rate_cell(row, metric)
    if cell.empty:
        return Text("–", style="dim")
    text = Text(f"{pct(cell.rate)} {cell.numerator}/{cell.denominator}")
    text.append(f"\n[{_whole(cell.ci_low)}–{_whole(cell.ci_high)}%]", style="dim")
    if cell.low_volume:
        text.stylize("italic dim")
        text.append("\nlow volume", style="bold yellow")
    return text


def _whole(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.0f}"


def _short_label(metric: str) -> str:
    try:
        return catalogue.metric(metric).short
    except KeyError:  # a metric published by a newer version than this one
        return views.metric_label(metric)


def print_tables(
    view: TerminalView, section: Section, console: Console, min_volume: int, wide: bool = False
) -> None:
    run = view.run
    console.print(
        f"[bold]Support audit {view.audit_date.isoformat()}[/bold]  run {run.run_id or '–'}  "
        f"policy {run.policy_version or '–'}  validation {run.validation or 'not recorded'}"
    )
    if "period_start" in view.scorecard.columns and not view.scorecard.is_empty():
        console.print(f"Scorecard of {_period_text(view.scorecard.row(0, named=True))}; flags of the day")
    if section in ("all", "scorecard"):
        console.print(scorecard_table(view.scorecard, min_volume, wide))
    if section in ("all", "flags"):
        console.print(flags_table(view.flags, wide))
        console.print(peer_flags_table(view.peer_flags, wide))


def scorecard_table(scorecard: pl.DataFrame, min_volume: int, wide: bool = True) -> Table:
    """Rate metrics with any denominator in the selection, each as rate, fraction and interval;
    unless `wide`, the headline rates only (the caption says how many more there are)."""
    metrics = [m for m in views.rate_metrics(scorecard) if scorecard.get_column(f"{m}_denominator").sum() > 0]
    volumes = [c for c in views.VOLUME_COLUMNS if c in scorecard.columns]
    counts = [c for c in views.COUNT_COLUMNS if c in scorecard.columns]
    left_out = []
    if not wide:
        left_out = [m for m in metrics if m not in catalogue.headline_metrics()] + counts
        metrics, counts = [m for m in metrics if m in catalogue.headline_metrics()], []
    caption = (
        f"95% Wilson intervals in brackets; 'low volume': fewer than {min_volume} contacts, not a verdict"
    )
    if left_out:
        caption += f"; {len(left_out)} more columns with --wide (or --format json / csv)"
    table = Table(title="Agent scorecard", caption=caption, show_lines=True)
    for column in ["agent", "team", *volumes]:
        table.add_column(column.replace("_", " "), justify="left" if column in ("agent", "team") else "right")
    for metric in metrics:
        table.add_column(_short_label(metric), justify="right", min_width=11)
    for column in counts:
        table.add_column(column.replace("_", " "), justify="right")
    for row in scorecard.to_dicts():
        table.add_row(
            number(row.get("agent_id")),
            number(row.get("team_id")),
            *(number(row.get(c)) for c in volumes),
            *(_rate_text(row, m) for m in metrics),
            *(number(row.get(c)) for c in counts),
        )
    return table


def flags_table(flags: pl.DataFrame, wide: bool = True) -> Table:
    table = Table(title=f"Concession flags ({flags.height})", show_lines=True)
    columns = [c for c in views.FLAG_COLUMNS if c in flags.columns and not c.startswith("window")]
    for column in columns:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in flags.to_dicts():
        table.add_row(
            *(_evidence(row.get(c), wide) if c == "evidence_ids" else number(row.get(c)) for c in columns)
        )
    return table


def peer_flags_table(flags: pl.DataFrame, wide: bool = True) -> Table:
    """Agents flagged against their peers (rolling 28 days ending on the day): the rate, the
    peers' pooled rate, z and the Benjamini-Hochberg q, and the contacts behind the flag."""
    table = Table(title=f"Peer flags, rolling 28 days ({flags.height})", show_lines=True)
    columns = [c for c in views.PEER_FLAG_COLUMNS if c in flags.columns]
    if not wide:
        columns = [c for c in columns if c not in ("first_flagged_on", "peer_rate", "evidence_count")]
    for column in columns:
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in flags.to_dicts():
        table.add_row(
            *(_evidence(row.get(c), wide) if c == "evidence_ids" else number(row.get(c)) for c in columns)
        )
    return table


def _period_text(row: dict[str, Any]) -> str:
    """`week 2026-11-30 to 2026-12-06 (4 published days)`: what a period scorecard covers."""
    kind = {"rolling_28d": "rolling 28 days", "span": "the days"}.get(row["period"], row["period"])
    days = row.get("published_days")
    covered = f" ({days} published day{'s' if days != 1 else ''})" if days is not None else ""
    return f"{kind} {row['period_start']} to {row['period_end']}{covered}"


def _evidence(ids: list[str] | None, wide: bool) -> str:
    """Evidence ids, the first few and a count of the rest unless `wide` (json and csv list all)."""
    if not ids or wide or len(ids) <= EVIDENCE_SHOWN:
        return number(ids)
    return f"{number(ids[:EVIDENCE_SHOWN])} … (+{len(ids) - EVIDENCE_SHOWN} more)"
