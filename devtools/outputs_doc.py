"""docs/outputs.md, generated from the catalogue: every published table and column.

    python -m devtools.outputs_doc          # rewrite docs/outputs.md
    python -m devtools.outputs_doc --check  # exit 1 when docs/outputs.md is stale

tests/catalogue checks the committed file is what this module renders, so the document cannot
drift from what the pipeline publishes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

import catalogue
from catalogue import Metric, Table

OUTPUTS_DOC = Path(__file__).resolve().parents[1] / "docs" / "outputs.md"

INTRO = """\
# Published outputs

<!-- Generated from catalogue/ by `python -m devtools.outputs_doc`; do not edit by hand. -->

Every table below is a Delta Lake table under the configured warehouse URI (a folder or
`s3://bucket/prefix`), at `<warehouse>/<table>`, readable by Polars, DuckDB, Spark, Trino or
Athena. The daily tables are partitioned by `audit_date`. Publishing a day replaces that day's
partition of each table in one commit per table, so a re-run never duplicates rows; the table
history keeps every version for auditors (see [auditing.md](auditing.md)). The run manifest is
append-only: every run adds its row. The period scorecards are partitioned by `period` and
recomputed from the published days after each run (see
[auditing.md](auditing.md#period-scorecards)).

Personal data: `customer_id` is published only as `customer_key`, a keyed pseudonym
(HMAC-SHA256 with the deployment's secret key); free text (`subject`, `body`) is never
published. Agent and team ids are published as they are. Rows quarantined at ingestion stay,
unpublished, in the restricted quarantine prefix of the landing store.

The descriptions below travel with the tables: each Delta table is created with its grain and
description as the table description, and every column with its description as the column's
`comment` (what Spark, Databricks, Trino and most BI tools show). They come from the one
catalogue this page is generated from; after an upgrade that rewords them, run
`python -c "from warehouse.delta import sync_descriptions; print(sync_descriptions('<warehouse>'))"`
between runs to update the stored ones.

Same inputs, same configuration and same code give identical table contents (except `run_id`,
which names the run that wrote the rows, and the period scorecards' `source_digest`, which
names the days' publications a row was computed from). Each table is
validated by the Great Expectations suite of the same name (`expectations/<table>.py`) before
anything is published.
"""


_TYPE_NAMES = {
    pl.String: "string",
    pl.Int64: "int64",
    pl.Int32: "int32",
    pl.Float64: "float64",
    pl.Boolean: "boolean",
    pl.Date: "date",
}


def _type(dtype: Any) -> str:
    """A Polars type as docs/outputs.md names it (lists and structs spelled out)."""
    if isinstance(dtype, pl.List):
        return f"list of {_type(dtype.inner)}"
    if isinstance(dtype, pl.Struct):
        return "struct"
    if isinstance(dtype, pl.Datetime):
        return f"timestamp ({dtype.time_zone or 'naive'})"
    return next((name for t, name in _TYPE_NAMES.items() if dtype == t), str(dtype))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _index(tables: Iterable[Table]) -> list[str]:
    lines = ["## Tables", "", "| table | one row per | key | written |", "|---|---|---|---|"]
    for t in tables:
        written = {
            "append": "append (rows per publish attempt)",
            "replace_day": "replace the day's partition",
            "merge": "merge by key (ingest)",
            "replace_periods": "replace the periods a publish changed",
            "replace_changed_days": "replace the days whose lifecycle changed",
            "replace_table": "replace the whole table when the store changed",
        }[t.write]
        key = _keys(t) + ("" if t.unique else " (sort order; not unique)")
        lines.append(f"| [`{t.name}`](#{t.name}) | {t.grain} | {key} | {written} |")
    return [*lines, ""]


def _keys(t: Table) -> str:
    return ", ".join(f"`{k}`" for k in t.key)


def _table(t: Table) -> list[str]:
    lines = [
        f"## {t.name}",
        "",
        f"One row per {t.grain}. {t.description}" + (f" Defined in [{t.docs}]({t.docs})." if t.docs else ""),
        "",
        (f"Key: {_keys(t)}. " if t.unique else f"Sort order (not a key: rows can be equal): {_keys(t)}. ")
        + (f"Partitioned by {', '.join(f'`{p}`' for p in t.partition_by)}. " if t.partition_by else "")
        + (f"Suite: `expectations/{t.suite}.py`." if t.write != "merge" else ""),
        "",
        "| column | type | description |",
        "|---|---|---|",
    ]
    for c in t.columns:
        values = f" Values: {', '.join(f'`{v}`' for v in c.values)}." if c.values else ""
        lines.append(f"| `{c.name}` | {_type(c.dtype)} | {_cell(c.description + values)} |")
    return [*lines, ""]


# Published columns renamed so that every boolean is `is_*` (the earlier names were also the
# specification's): earlier name -> (name, tables). Metrics added since have only the new name.
_SCORECARDS = ("agent_scorecard", "team_scorecard", "agent_period_scorecard", "team_period_scorecard")
_RENAMED_RATES = (
    "follow_up",
    "escalation",
    "missed_escalation",
    "late_escalation",
    "de_escalation",
    "first_contact_resolution",
    "repeat_contact",
    "reopen",
    "satisfaction_confirmed",
    "csat_good",
    "abandonment",
)
RENAMED_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    **{f"{m}_low_volume": (f"is_{m}_low_volume", _SCORECARDS) for m in _RENAMED_RATES},
    "customer_came_back_first": ("is_customer_came_back_first", ("follow_up_audit",)),
    **{
        flag: (f"is_{flag}", ("escalation_audit",))
        for flag in ("started_negative", "de_escalated", "lost_control", "argumentative")
    },
}

RENAMED_INTRO = """\
## Renamed columns

Since this release every boolean column of a published table is named `is_*`. The columns below
had other names before (the names published before 2026-12-07); they hold the same values. The
input contract's booleans (`public`, `supervisor_requested`, `satisfaction_confirmed`) are not
renamed: they are the export format you produce ([contract.md](contract.md)).

| earlier name | name since this release | tables |
|---|---|---|
"""

RENAMED_UPGRADE = """
A warehouse written by an earlier version keeps the earlier columns. Publishing replaces a
day's partition with Delta schema evolution by merge (`schema_mode="merge"`): the new column is
added and none is dropped. So the days published before the upgrade keep the earlier column
and have null in the new one, and the days published after it the reverse, until those older
days are re-audited: `audit backfill --start D1 --end D2 --no-ingest` re-publishes them with the
new columns (and recomputes their period scorecards). Once every older day is re-audited, the
earlier column is null on every row (it stays in the schema). Re-audit the older days, or read
both in SQL until you do: `coalesce(is_follow_up_low_volume, follow_up_low_volume)`. The days
still to re-audit are the ones whose rows have an earlier column filled in. The HTML report and
`audit report` read only the new names, so they mark no published per-agent or per-team rate
as low volume on a day that was not re-audited.
"""


def _renamed() -> list[str]:
    """The renamed-columns section; raises when a new name is not (or an earlier one still is)
    a column of its table, so the section cannot drift from the catalogue."""
    rows = []
    for old, (new, tables) in RENAMED_COLUMNS.items():
        for name in tables:
            names = {c.name for c in catalogue.TABLES[name].columns}
            if new not in names or old in names:
                raise ValueError(f"{name}: renamed column {old} -> {new} does not match the catalogue")
        rows.append(f"| `{old}` | `{new}` | {', '.join(f'[`{t}`](#{t})' for t in tables)} |")
    return [RENAMED_INTRO + "\n".join(rows), RENAMED_UPGRADE]


def _metric_row(m: Metric) -> str:
    headline = " (headline)" if m.headline else ""
    definition = f"{_cell(m.description)} [More](metrics.md#{m.anchor})."
    return f"| `{m.name}` | {m.kind} | {m.family} | {_cell(m.label)}{headline} | {definition} |"


def _metrics() -> list[str]:
    lines = [
        "## Metrics",
        "",
        "Every scorecard metric, by family (each family declares its own in `transforms/<family>.py`). "
        "A rate publishes six columns `<m>_numerator`, `_denominator`, `_rate`, `_ci_low`, "
        "`_ci_high` and `is_<m>_low_volume`; a measure one column per statistic (`<m>_median`, `_p90`, "
        "`_mean`); a count one column. Measures with no statistic are inputs of a ratio.",
        "",
        "| metric | kind | family | label | what it counts or measures |",
        "|---|---|---|---|---|",
    ]
    lines += [_metric_row(m) for m in (*catalogue.VOLUMES, *catalogue.METRICS)]
    return [*lines, ""]


STORE_INTRO = """\
# The canonical store (not published)

What ingestion keeps so that each export object is read, validated and merged once, and what
every audit day reads: Delta tables under the store URI (`store_uri`; by default
`<warehouse>/_canonical`). They hold raw customer ids and free text, so they are **not**
published: restrict the prefix like the landing store. How the store and the ledger work, and
how to trace a published number to its export objects, is in
[auditing.md](auditing.md#the-canonical-store-and-the-ingest-ledger).
"""


def render() -> str:
    body = [INTRO, *_index(catalogue.TABLES.values()), *_renamed(), *_metrics()]
    for t in catalogue.TABLES.values():
        body += _table(t)
    body += [STORE_INTRO, *_index(catalogue.STORE_TABLES.values())]
    for t in catalogue.STORE_TABLES.values():
        body += _table(t)
    return "\n".join(body).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/outputs.md is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUTS_DOC.read_text(encoding="utf-8") if OUTPUTS_DOC.exists() else ""
        if current != text:
            print(f"{OUTPUTS_DOC} is stale: run python -m devtools.outputs_doc", file=sys.stderr)
            return 1
        return 0
    OUTPUTS_DOC.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUTS_DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
