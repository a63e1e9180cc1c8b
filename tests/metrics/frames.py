"""Small builders for canonical frames, shared by the metric-family tests.

Each builder takes a few dicts with only the columns a test cares about and returns a
LazyFrame with the full canonical schema (transforms/schemas), missing columns as typed
nulls. Timestamps may be given as ISO strings ("2026-03-02T10:00:00Z") or datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import polars as pl

from transforms.schemas import CALLS, TICKET_EVENTS, TICKETS, EntitySchema
from transforms.scope import CanonicalTables, DayScope, whole_history_scope

TIMESTAMP = pl.Datetime("us", "UTC")


def ts(value: str | datetime) -> datetime:
    """An ISO-8601 string (Z or offset) or datetime as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _frame(
    schema: EntitySchema, rows: Iterable[Mapping[str, Any]], defaults: Mapping[str, Any]
) -> pl.LazyFrame:
    target = schema.polars_schema
    records = []
    for row in rows:
        unknown = set(row) - set(target.names())
        if unknown:
            raise KeyError(f"{schema.name}: unknown column(s) {sorted(unknown)}")
        record = {**defaults, **row}
        for name, value in record.items():
            if target[name] == TIMESTAMP and value is not None:
                record[name] = ts(value)
        records.append({name: record.get(name) for name in target.names()})
    return pl.DataFrame(records, schema=target, orient="row").lazy() if records else target.to_frame().lazy()


def tickets_frame(*rows: Mapping[str, Any]) -> pl.LazyFrame:
    """Canonical tickets. Defaults: customer c1, status solved, channel email, category billing,
    priority normal, created/updated 2026-03-01T09:00Z."""
    defaults = {
        "customer_id": "c1",
        "created_at": "2026-03-01T09:00:00Z",
        "updated_at": "2026-03-01T09:00:00Z",
        "status": "solved",
        "channel": "email",
        "category": "billing",
        "priority": "normal",
    }
    return _frame(TICKETS, rows, defaults)


def events_frame(*rows: Mapping[str, Any]) -> pl.LazyFrame:
    """Canonical ticket_events. Defaults: actor_role agent. `event_id` defaults to e1, e2, ... in order."""
    numbered = [{"event_id": f"e{i}", **row} for i, row in enumerate(rows, start=1)]
    return _frame(TICKET_EVENTS, numbered, {"actor_role": "agent"})


def calls_frame(*rows: Mapping[str, Any]) -> pl.LazyFrame:
    """Canonical calls. Defaults: customer c1, direction inbound; `updated_at` defaults to `ended_at`."""
    filled = [{"updated_at": row.get("ended_at"), **row} for row in rows]
    return _frame(CALLS, filled, {"customer_id": "c1", "direction": "inbound"})


def solve(ticket_id: str, at: str, actor_id: str | None = "a1", actor_role: str = "agent") -> dict[str, Any]:
    """A status_change-to-solved event row."""
    return {
        "ticket_id": ticket_id,
        "occurred_at": at,
        "event_type": "status_change",
        "new_status": "solved",
        "actor_role": actor_role,
        "actor_id": actor_id,
    }


def assign(ticket_id: str, at: str, assignee_id: str, team_id: str | None = None) -> dict[str, Any]:
    """An assignment event row."""
    return {
        "ticket_id": ticket_id,
        "occurred_at": at,
        "event_type": "assignment",
        "assignee_id": assignee_id,
        "team_id": team_id,
        "actor_role": "system",
    }


def scope_of(
    tickets: pl.LazyFrame,
    events: pl.LazyFrame,
    calls: pl.LazyFrame,
    time_zone: str = "UTC",
    **narrowed: pl.LazyFrame,
) -> DayScope:
    """A family's input from hand-built frames: the whole history, un-narrowed (what the day's
    scope must agree with), with any `DayScope` field replaced by `narrowed`."""
    scope = whole_history_scope(CanonicalTables(tickets, events, calls), time_zone)
    return replace(scope, **narrowed)
