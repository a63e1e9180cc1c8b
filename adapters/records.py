"""JSON as the vendors write it: one document (a Zendesk page, a Contact Lens file), or a stream
of records concatenated with no delimiter (`{...}{...}`, Kinesis Data Firehose's default) or one
per line (with `AppendDelimiterToRecord`), gzipped or not. The gzip and size limits are the
contract readers' (`ReadLimits`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import orjson

from configs.limits import ReadLimits
from ingestion.readers import UnreadableFile, gunzip

_GZIP_MAGIC = b"\x1f\x8b"
_decoder = json.JSONDecoder()
_SPACE = " \t\r\n"
_LONG_NUMBER = re.compile(r"[0-9]{19}")


def object_text(data: bytes, limits: ReadLimits) -> str:
    """The object's text: gunzipped when it starts with the gzip magic (Firehose may compress
    without a `.gz` suffix), then UTF-8 (a byte-order mark allowed)."""
    if data[:2] == _GZIP_MAGIC:
        data = gunzip(data, limits)
    if len(data) > limits.max_decompressed_bytes:
        raise UnreadableFile(
            "object_too_large", f"{len(data)} bytes, the limit is {limits.max_decompressed_bytes}"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile("undecodable_text", f"not UTF-8 at byte {exc.start}") from None


def json_document(data: bytes, limits: ReadLimits) -> dict[str, Any]:
    """One JSON object (a page or an analysis file); anything else rejects the file. Parsed by
    orjson: a large centre's day is ~600 pages and ~60,000 Contact Lens files."""
    try:
        document = orjson.loads(object_text(data, limits))
    except orjson.JSONDecodeError as exc:
        raise UnreadableFile("malformed_json", f"not a JSON document (line {exc.lineno})") from None
    if not isinstance(document, dict):
        raise UnreadableFile("malformed_json", "the document is not a JSON object")
    return document


def json_stream(data: bytes, limits: ReadLimits) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(record number, record) for each JSON object of a concatenated or line-delimited stream.

    A stretch that does not parse (a record cut by a crashed writer) yields (n, None) once, and
    reading resumes at the next `{` that starts a line or follows a `}`: the records after it
    are still read.
    """
    text = object_text(data, limits)
    whole = _whole_records(text)
    if whole is not None:
        yield from enumerate(whole, start=1)
        return
    yield from _careful_records(text)


def _whole_records(text: str) -> list[dict[str, Any] | None] | None:
    """The records by orjson, one per line once `}{` is split: Firehose writes them with no
    delimiter or one per line, and orjson reads them ~5x faster than `json.raw_decode`. None
    when any piece does not parse (a record cut short, records on one line with spaces between
    them, a `}{` inside a string, a character other than space, tab, CR or LF between records,
    a run of 19 digits or more, which orjson would read as a float): `_careful_records` then
    reads the object. Splitting inside a string leaves both pieces unparseable, so a record is never
    read wrongly."""
    if _LONG_NUMBER.search(text):  # orjson reads integers past 64 bits as floats
        return None
    records: list[dict[str, Any] | None] = []
    for line in text.replace("}{", "}\n{").split("\n"):
        if not line.strip(_SPACE):
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        records.append(record if isinstance(record, dict) else None)
    return records


def _careful_records(text: str) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """`json_stream`'s reader for any stream, record by record with `json.raw_decode`."""
    position, number, end = 0, 0, len(text)
    while True:
        while position < end and text[position] in _SPACE:
            position += 1
        if position >= end:
            return
        number += 1
        try:
            record, position = _decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            yield number, None
            position = _resume(text, position + 1)
            continue
        yield number, record if isinstance(record, dict) else None


def _resume(text: str, start: int) -> int:
    """The next plausible record start after a broken one: `}{` or a newline then `{`."""
    candidates = [i + 1 for i in (text.find("}{", start), text.find("\n{", start)) if i >= 0]
    return min(candidates) if candidates else len(text)
