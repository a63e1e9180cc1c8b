"""Reading Great Expectations result items: the column checked, what a check observed, the
failing keys. Shared by the gate (failures, summary) and the Data Docs pages, which read the
same sanitised results so the two can never disagree."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from expectations._suite import CRITICAL

SAMPLE_KEYS = 10


def column(kwargs: Mapping[str, Any], rename: Callable[[str], str] = str) -> str | None:
    """The column(s) an expectation checks, as one label (`b<=a` for a pair)."""
    if "column" in kwargs:
        return rename(str(kwargs["column"]))
    if "column_A" in kwargs:
        return f"{rename(kwargs['column_B'])}<={rename(kwargs['column_A'])}"
    if "column_list" in kwargs:
        return ",".join(rename(c) for c in kwargs["column_list"])
    return None


def observed(detail: Mapping[str, Any], raised: str | None) -> str | None:
    """What a table-level check saw (a row count, missing columns) or the error it raised."""
    missing = ((detail.get("details") or {}).get("mismatched") or {}).get("missing")
    if missing:
        return f"missing columns {missing}"
    value = detail.get("observed_value")
    if value is not None:
        return str(value)
    return f"error: {raised}" if raised else None


def index_rows(detail: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every failing row's key columns, from either shape GX returns (list of dicts, or one
    dict of lists); other values in the entries (the checked column's) are dropped."""
    names = detail.get("unexpected_index_column_names") or []
    rows: list[dict[str, Any]] = []
    for entry in detail.get("unexpected_index_list") or []:
        if isinstance(entry, dict) and all(isinstance(entry.get(n), list) for n in names) and names:
            columns = [entry[n] for n in names]
            rows.extend(dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True))
        elif isinstance(entry, dict):
            rows.append({n: entry.get(n) for n in names})
    return rows


def sample_keys(detail: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """Up to SAMPLE_KEYS failing keys, in the order GX reports them."""
    return tuple({k: plain(v) for k, v in row.items()} for row in index_rows(detail)[:SAMPLE_KEYS])


def plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def severity(config: Mapping[str, Any]) -> str:
    """An expectation's severity as the suites tag it (`meta.severity`); untagged is critical."""
    return str((config.get("meta") or {}).get("severity", CRITICAL))
