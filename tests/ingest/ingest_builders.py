"""Builders for the ingestion tests: valid raw rows, export bytes in every format, an
in-memory Storage, and conformed raw frames for the pure staging/dedup tests."""

from __future__ import annotations

import builtins
import gzip
import hashlib
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path

import polars as pl

from storage import ObjectInfo
from transforms.schemas import EntitySchema
from transforms.schemas.base import SOURCE_ROW
from transforms.staging import conform_columns

DAY = date(2026, 3, 2)
KEY = "tickets/export_date=2026-03-02/part-0.csv"


def ticket(**overrides: str | None) -> dict[str, str | None]:
    """A valid raw ticket row (all text), with overrides."""
    row: dict[str, str | None] = {
        "ticket_id": "T1",
        "customer_id": "C1",
        "created_at": "2026-03-02T09:00:00Z",
        "updated_at": "2026-03-02T10:00:00Z",
        "status": "open",
        "channel": "email",
        "category": "billing",
    }
    return {**row, **overrides}


def event(**overrides: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "event_id": "E1",
        "ticket_id": "T1",
        "occurred_at": "2026-03-02T09:30:00Z",
        "event_type": "comment",
        "actor_role": "agent",
        "public": "true",
    }
    return {**row, **overrides}


def call(**overrides: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "call_id": "K1",
        "customer_id": "C1",
        "updated_at": "2026-03-02T10:10:00Z",
        "direction": "inbound",
        "initiated_at": "2026-03-02T10:00:00Z",
        "answered_at": "2026-03-02T10:01:00Z",
        "ended_at": "2026-03-02T10:09:00Z",
    }
    return {**row, **overrides}


def columns_of(rows: Sequence[Mapping[str, str | None]]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names)


def csv_bytes(rows: Sequence[Mapping[str, str | None]], columns: Sequence[str] | None = None) -> bytes:
    names = list(columns or columns_of(rows))
    frame = pl.DataFrame([{c: r.get(c) for c in names} for r in rows], schema=dict.fromkeys(names, pl.String))
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


def jsonl_bytes(rows: Sequence[Mapping[str, object]]) -> bytes:
    return "".join(json.dumps(dict(r)) + "\n" for r in rows).encode()


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def export_bytes(rows: Sequence[Mapping[str, str | None]], fmt: str) -> bytes:
    """The same text rows in any supported format (Parquet as String columns)."""
    if fmt == "csv":
        return csv_bytes(rows)
    if fmt == "jsonl":
        return jsonl_bytes(rows)
    if fmt == "parquet":
        names = columns_of(rows)
        frame = pl.DataFrame(
            [{c: r.get(c) for c in names} for r in rows], schema=dict.fromkeys(names, pl.String)
        )
        return parquet_bytes(frame)
    if fmt.endswith(".gz"):
        return gzip.compress(export_bytes(rows, fmt.removesuffix(".gz")))
    raise ValueError(fmt)


def conformed(
    rows: Sequence[Mapping[str, str | None]],
    schema: EntitySchema,
    *,
    key: str = KEY,
    day: date = DAY,
    first_row: int = 1,
) -> pl.LazyFrame:
    """Raw rows as staging receives them: contract columns as text plus lineage."""
    names = columns_of(rows)
    raw = pl.DataFrame(
        [{c: r.get(c) for c in names} for r in rows], schema=dict.fromkeys(names, pl.String)
    ).with_row_index(SOURCE_ROW, offset=first_row)
    return conform_columns(raw.lazy(), schema, export_date=day, source_key=key)


class MemoryStorage:
    """The Storage interface over a dict; keys are kept exactly as given (even unsafe ones)."""

    def __init__(self, objects: Mapping[str, bytes] | None = None) -> None:
        self.uri = "memory://"
        self.objects: dict[str, bytes] = dict(objects or {})

    def list(self, prefix: str = "", *, hashed: bool = True) -> Iterator[ObjectInfo]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                data = self.objects[key]
                yield ObjectInfo(key, self.etag(key), len(data), fingerprint=self.etag(key))

    def etag(self, key: str) -> str:
        return hashlib.md5(self.objects[key], usedforsecurity=False).hexdigest()

    def read_bytes(self, key: str) -> bytes:
        return self.objects[key]

    def folders(self, prefix: str) -> builtins.list[str]:
        base = prefix.rstrip("/") + "/"
        return sorted(
            {
                k[len(base) :].split("/")[0]
                for k in self.objects
                if k.startswith(base) and "/" in k[len(base) :]
            }
        )

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self.objects[key] = data

    def exists(self, key: str) -> bool:
        return key in self.objects


_READ_IN_OWN_PROCESS = """
import resource, sys
from pathlib import Path
from ingestion.readers import UnreadableFile, read_export
data = Path(sys.argv[1]).read_bytes()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_export(data, sys.argv[2]).collect()
    print('read')
except UnreadableFile as exc:
    print(exc.reason)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def read_in_own_process(path: Path, key: str) -> tuple[str, int]:
    """`read_export` of a file's bytes in a fresh process: the reason it refused them ("read" if
    it did not) and how many MB the process's peak RSS grew while reading, the bytes already
    held (one allocation). A process of its own, so nothing else's peak counts."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _READ_IN_OWN_PROCESS, str(path), key],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    reason, grown_mb = done.stdout.split()
    return reason, int(grown_mb)
