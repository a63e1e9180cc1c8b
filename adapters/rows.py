"""Adapter output: contract rows as text, the same frame a contract reader gives staging."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from transforms.schemas import ENTITIES
from transforms.schemas.base import MALFORMED, SOURCE_ROW, UNMAPPABLE_MARK


@dataclass
class Rows:
    """Rows of one entity, built one vendor record at a time, numbered 1.. in output order."""

    entity: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, values: dict[str, Any]) -> None:
        """One contract row; values are rendered as text (None stays null)."""
        # Nulls are left out (the frame fills them); most values are already text.
        self.rows.append({k: v if type(v) is str else _text(v) for k, v in values.items() if v is not None})

    def unmappable(self, where: str, why: str) -> None:
        """A vendor record the mapping cannot turn into a row: `where` names the record and the
        vendor field, `why` the rule (never a personal value)."""
        self.rows.append({MALFORMED: f"{UNMAPPABLE_MARK}{where}: {why}"})

    def unreadable(self, where: str) -> None:
        """A stretch of the object that is not a JSON record (`malformed_row`)."""
        self.rows.append({MALFORMED: f"{where} is not a readable JSON record"})

    def frame(self) -> pl.DataFrame:
        columns = ENTITIES[self.entity].columns
        schema = {**dict.fromkeys(columns, pl.String()), MALFORMED: pl.String()}
        frame = pl.DataFrame(self.rows, schema=schema)
        return frame.select(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(SOURCE_ROW), pl.all())


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def first(values: Iterable[Any]) -> Any:
    """The first value that is not None (else None)."""
    return next((v for v in values if v is not None), None)
