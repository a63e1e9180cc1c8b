"""What a run tells people: the run summary, its markdown artifact and the failure note.

Plain functions from run results to text and tables, so they are tested without Prefect.
Only agent and team ids and contact ids appear here; never customer ids or free text.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import polars as pl

import catalogue
from ingestion.incremental import IngestReport
from transforms.schemas import ENTITIES
from transforms.stats import rate_column

TOP_ROWS = 10
COUNTS = ["rows_read", "rows_accepted", "rows_quarantined", "rows_duplicate"]


def reconciliation(files: pl.DataFrame) -> pl.DataFrame:
    """Rows read / accepted / quarantined / duplicate per entity, summed over its objects (ledger
    entries or a file report: one row per object with `entity` and the counts)."""
    summed = files.group_by("entity").agg(pl.len().cast(pl.Int64).alias("files"), pl.col(COUNTS).sum())
    every = pl.DataFrame({"entity": list(ENTITIES)})
    return (
        every.join(summed, on="entity", how="left")
        .with_columns(pl.col("files", *COUNTS).fill_null(0).cast(pl.Int64))
        .select("entity", "files", *COUNTS)
    )


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def headline(agent_scorecard: pl.DataFrame) -> dict[str, float | None]:
    """Day-level rates from summed numerators and denominators (never averaged rates)."""
    out: dict[str, float | None] = {}
    for metric in catalogue.headline_metrics():
        num, den = f"{metric}_numerator", f"{metric}_denominator"
        if num in agent_scorecard.columns:
            out[metric] = _rate(int(agent_scorecard[num].sum()), int(agent_scorecard[den].sum()))
    return out


def run_summary(
    run_id: str,
    audit_date: date,
    policy_version: str,
    files: pl.DataFrame,
    metrics: dict[str, pl.DataFrame],
    published: Any,
    report_url: str | None,
    ingest: IngestReport | None = None,
) -> dict[str, Any]:
    """A JSON-able record of the run: what went in, what came out, where to look. `files` are the
    ledger entries of the objects in the day's export range."""
    return {
        "run_id": run_id,
        "audit_date": audit_date.isoformat(),
        "policy_version": policy_version,
        "validation_passed": published.status == "succeeded",
        "table_versions": dict(published.table_versions),
        "inputs": reconciliation(files).to_dicts(),
        "ingest": ingest_summary(ingest) if ingest is not None else None,
        "rows": {name: frame.height for name, frame in metrics.items()},
        "headline": headline(metrics["agent_scorecard"]),
        "report_url": report_url,
        "data_docs_url": published.data_docs_url,
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


# What can break a table, open a link, an HTML tag or code, or swallow text into emphasis. A cell
# never starts a line (`#`, `-`, `+` are safe), and `_` inside a word is not emphasis.
MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|])")


def markdown_text(value: Any) -> str:
    """A value from the data as literal markdown text: ids come from the exports, and an id such as
    `a|b` or `[x](http://...)` must neither break a table nor become a link in an artifact."""
    if value is None:
        return ""
    return MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def _markdown_table(frame: pl.DataFrame) -> str:
    if frame.is_empty():
        return "_none_\n"
    header = "| " + " | ".join(markdown_text(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(markdown_text(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *rows]) + "\n"


def _fenced(text: str) -> list[str]:
    """`text` in a code fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, text, fence]


def _missed_by_agent(frame: pl.DataFrame, status_col: str, missed: str) -> pl.DataFrame:
    if frame.is_empty():
        return pl.DataFrame()
    return (
        frame.filter(pl.col(status_col) == missed)
        .group_by("agent_id")
        .agg(pl.len().alias(missed), pl.col("contact_id").sort().head(3).str.join(", ").alias("e.g."))
        .sort([missed, "agent_id"], descending=[True, False])
        .head(TOP_ROWS)
    )


def top_flags(flags: pl.DataFrame) -> pl.DataFrame:
    """Actionable concession flags first (high rate, outliers, repeat beneficiaries), by q then p."""
    if flags.is_empty():
        return flags
    return (
        flags.filter(pl.col("flag_type") != "low_concession_rate")
        .sort(["flag_type", "q_value", "p_value", "subject_id"], nulls_last=True)
        .select(
            "flag_type",
            "subject_type",
            pl.when(pl.col("subject_type") == "customer")
            .then(pl.lit("(customer)"))
            .otherwise(pl.col("subject_id"))
            .alias("subject"),
            pl.col("observed").round(2),
            pl.col("expected").round(2),
            pl.col("q_value").round(6),
            pl.col("evidence_ids").list.head(3).list.join(", ").alias("evidence (first 3)"),
        )
        .head(TOP_ROWS)
    )


def run_markdown(result: dict[str, Any], metrics: dict[str, pl.DataFrame]) -> str:
    """The per-run markdown artifact."""
    status = "passed" if result["validation_passed"] else "FAILED (nothing published for the day)"
    inputs = pl.DataFrame(result["inputs"])
    head = result["headline"]
    lines = [
        f"# support-audit {result['audit_date']}",
        "",
        f"Run `{result['run_id']}`, policy `{result['policy_version']}`, validation **{status}**.",
        "",
        f"- HTML report: {result['report_url']}",
        f"- Data Docs: {result['data_docs_url']}",
        "",
        "## Inputs",
        _markdown_table(inputs),
        "## Headline",
        *(f"- {catalogue.metric(m).label}: {_pct(head.get(m))}" for m in catalogue.headline_metrics()),
        "",
        "## Top concession flags",
        _markdown_table(top_flags(metrics["concession_flags"])),
        "## Missed follow-ups by agent",
        _markdown_table(_missed_by_agent(metrics["follow_up_audit"], "status", "missed")),
        "## Missed escalations by agent",
        _markdown_table(_missed_by_agent(metrics["escalation_audit"], "escalation_class", "missed")),
    ]
    return "\n".join(lines)


def review_frames(metrics: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The rows `run_markdown` lists, kept small: the day's flags and only the missed follow-ups
    and escalations, so a day can wait for its report (after the period refresh) without holding
    its audit tables."""
    follow_up, escalation = metrics["follow_up_audit"], metrics["escalation_audit"]
    return {
        "concession_flags": metrics["concession_flags"],
        "follow_up_audit": follow_up.filter(pl.col("status") == "missed").select(
            "agent_id", "contact_id", "status"
        )
        if not follow_up.is_empty()
        else follow_up,
        "escalation_audit": escalation.filter(pl.col("escalation_class") == "missed").select(
            "agent_id", "contact_id", "escalation_class"
        )
        if not escalation.is_empty()
        else escalation,
    }


def scorecard_table(agent_scorecard: pl.DataFrame) -> list[dict[str, Any]]:
    """The agent scorecard as a Prefect table artifact: volumes and the headline rates."""
    wanted = ["agent_id", "team_id", "contacts", "tickets_solved", "calls_answered"]
    for metric in catalogue.headline_metrics():
        wanted += [rate_column(metric, part) for part in ("numerator", "denominator", "rate", "low_volume")]
    wanted += ["policy_violations", "concession_flags"]
    present = [c for c in wanted if c in agent_scorecard.columns]
    return agent_scorecard.select(present).with_columns(pl.col(pl.Float64).round(4)).to_dicts()


def failure_markdown(
    run_name: str,
    parameters: dict[str, Any],
    message: str | None,
    *,
    data_docs_index: str | None = None,
) -> str:
    """What failed and where to look, for the failure hook's artifact."""
    params = ", ".join(f"{k}={v}" for k, v in sorted(parameters.items()) if v is not None)
    lines = [
        f"# support-audit run `{run_name}` failed",
        "",
        f"Parameters: {markdown_text(params) or '(defaults)'}",
        "",
        *_fenced((message or "no message").strip()),
        "",
        "When the failure is a validation failure, nothing was published for the day; the Data Docs",
        "and the run manifest row (marked failed) were published under the reports and warehouse URIs.",
    ]
    if data_docs_index:
        lines += ["", f"- Data Docs (every run, by audit date): {data_docs_index}"]
    return "\n".join(lines)


def ingest_summary(report: IngestReport) -> dict[str, Any]:
    """What an ingest did: objects read (new or changed) and deleted, rows per entity, late
    objects and the published days they can change."""
    return {
        "run_id": report.run_id,
        "objects_read": report.objects_read.height,
        "objects_deleted": report.objects_deleted.height,
        "objects_unchanged": report.unchanged,
        "rows": reconciliation(report.objects_read).to_dicts(),
        "late_objects": report.late_objects,
        "days_to_reaudit": [d.isoformat() for d in report.affected_days],
        "newest_export_date": report.newest_export_date.isoformat() if report.newest_export_date else None,
        "not_read": list(report.strays),
        "store_versions": dict(report.store_versions),
    }


def ingest_markdown(result: dict[str, Any]) -> str:
    """The ingest's markdown artifact."""
    lines = [
        f"# support-audit ingest `{result['run_id']}`",
        "",
        f"- objects read: {result['objects_read']} (new or changed), deleted: {result['objects_deleted']}, "
        f"unchanged: {result['objects_unchanged']}",
        f"- newest export day: {result['newest_export_date'] or 'none'}",
        "",
        "## Rows of the objects read",
        _markdown_table(pl.DataFrame(result["rows"])),
    ]
    if result.get("not_read"):
        lines += [
            "## Not read: no export day",
            "Folders that are not `export_date=YYYY-MM-DD` (or vendor keys with no day): "
            + ", ".join(f"`{key}`" for key in result["not_read"]),
        ]
    if result["days_to_reaudit"]:
        days = result["days_to_reaudit"]
        lines += [
            "## Published days to re-audit",
            f"Late, changed or deleted exports can change: {', '.join(days)}.",
            f"Run `audit backfill --start {days[0]} --end {days[-1]}`.",
        ]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    """`42 s`, `3 min 05 s`, `2 h 07 min`: what a person reads at a glance."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_line(day: date, done: int, total: int, elapsed: float, failed: bool = False) -> str:
    """One backfill day finished: n/N, time so far, and the rest estimated at the mean pace so far
    (days run in any order on a cluster, so the pace, not the dates, measures what is left)."""
    left = elapsed / done * (total - done) if done else 0.0
    state = "failed" if failed else "done"
    rest = f", about {_duration(left)} left" if done < total else ""
    return f"{day} {state}: {done}/{total} days, {_duration(elapsed)} elapsed{rest}"


def web_links(
    reports_uri: str, web_url: str | None, report_url: str | None, data_docs_url: str | None
) -> dict[str, str]:
    """The report's and the Data Docs' addresses under `web_url`, for link artifacts: only for
    what lies under `reports_uri` (a folder path or an s3:// URI is no link a browser follows)."""
    if not web_url:
        return {}
    base, web = _location(reports_uri) + "/", web_url.rstrip("/") + "/"
    named = {"HTML report": report_url, "Data Docs": data_docs_url}
    located = {name: _location(url) for name, url in named.items() if url}
    return {name: web + url.removeprefix(base) for name, url in located.items() if url.startswith(base)}


def _location(uri: str) -> str:
    """A URI as comparable text: s3:// as it is, a folder as its absolute path."""
    from pathlib import Path

    return uri.rstrip("/") if "://" in uri else str(Path(uri).resolve())
