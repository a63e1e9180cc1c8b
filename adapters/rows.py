"""Adapter output: contract rows as text, the same frame a contract reader gives staging."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from transforms.schemas import ENTITIES
from transforms.schemas.base import MALFORMED, SOURCE_ROW, UNMAPPABLE_MARK

log = logging.getLogger(__name__)

# A record's field holds one JSON type in the vendor's documentation; a re-export or a Firehose
# transform can write another (a string where Connect writes a map).
Shape = Mapping[str, type | tuple[type, ...]]
_MAPPING_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError)
_JSON_TYPE = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}


class Unmappable(ValueError):
    """Raised while a record is mapped (inside `Rows.record`): the record becomes one unmappable
    row naming `field` (a path inside the record, e.g. `.Attributes.disposition`) and `why`."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field, self.why = field, why


@dataclass
class Rows:
    """Rows of one entity, built one vendor record at a time, numbered 1.. in output order."""

    entity: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    _where: str = ""  # the record being mapped (`record`)
    _start: int = 0

    def add(self, values: dict[str, Any]) -> None:
        """One contract row; values are rendered as text (None stays null)."""
        # Nulls are left out (the frame fills them); most values are already text.
        row = {k: v if type(v) is str else _text(k, v) for k, v in values.items() if v is not None}
        self.rows.append(row)

    def unmappable(self, where: str, why: str) -> None:
        """A vendor record the mapping cannot turn into a row: `where` names the record and the
        vendor field, `why` the rule (never a personal value)."""
        self.rows.append({MALFORMED: f"{UNMAPPABLE_MARK}{where}: {why}"})

    def unreadable(self, where: str) -> None:
        """A stretch of the object that is not a JSON record (`malformed_row`)."""
        self.rows.append({MALFORMED: f"{where} is not a readable JSON record"})

    def record(self, where: str) -> Rows:
        """Map one vendor record (`with rows.record(where): ...`): if any field deep inside it has
        a JSON type the mapping cannot use, the record's rows so far are taken back and it is one
        unmappable row, so one odd record never stops an ingest (`shape_problem` names the
        top-level fields first). The Rows is its own context manager: a generator-based one cost
        1.2 us a record, ~0.9 s of a large centre's vendor day."""
        self._where, self._start = where, len(self.rows)
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if kind is None or not issubclass(kind, _MAPPING_ERRORS):
            return False
        del self.rows[self._start :]
        if isinstance(exc, Unmappable):
            self.unmappable(self._where + exc.field, exc.why)
            return True
        log.warning("%s %s: %s while mapping it; quarantined", self.entity, self._where, kind.__name__)
        self.unmappable(self._where, "a field inside the record is not of the JSON type the vendor documents")
        return True

    def frame(self) -> pl.DataFrame:
        columns = ENTITIES[self.entity].columns
        schema = {**dict.fromkeys(columns, pl.String()), MALFORMED: pl.String()}
        frame = pl.DataFrame(self.rows, schema=schema)
        return frame.select(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(SOURCE_ROW), pl.all())


def _text(column: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):  # a multi-select field, a nested object: not one value
        held = json_type(value)
        raise Unmappable("", f"the vendor field mapped onto {column} holds {held}, not one value")
    return str(value)


def first(values: Iterable[Any]) -> Any:
    """The first value that is not None (else None)."""
    return next((v for v in values if v is not None), None)


def shape_problem(record: dict[str, Any], shape: Shape) -> tuple[str, str] | None:
    """The first field of `record` whose JSON type is not the documented one, as (".Field", why)."""
    for name, types in shape.items():
        value = record.get(name)
        if value is not None and not isinstance(value, types):
            wanted = types if isinstance(types, tuple) else (types,)
            expected = " or ".join(dict.fromkeys(_JSON_TYPE.get(t, t.__name__) for t in wanted))
            return f".{name}", f"is {json_type(value)}, not {expected} as the vendor writes it"
    return None


def json_type(value: Any) -> str:
    """How the JSON documents name a value's type ("an object", "null", ...)."""
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPE.items() if isinstance(value, kind)), "a number")
