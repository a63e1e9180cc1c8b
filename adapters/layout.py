"""Where the vendors' objects are in the landing, which entity each feeds, and its export day.

With `landing_vendor = "zendesk+connect"`, the landing holds the vendors' own layout under the
mapping's prefixes (docs/vendors.md):

    <zendesk.tickets_prefix>YYYY/MM/DD/<page>.json[.gz]         -> tickets
    <zendesk.ticket_events_prefix>YYYY/MM/DD/<page>.json[.gz]   -> ticket_events
    <zendesk.users_prefix>...                                    (roles; read whole each run)
    <connect.ctr_prefix>YYYY/MM/DD/HH/<stream>-...[.gz]          -> calls (Firehose's default)
    <connect.contact_lens_prefix>YYYY/MM/DD/<ContactId>_analysis_<time>.json (joined to calls)

The export day is the first date in the key below the prefix, written `YYYY/MM/DD`,
`export_date=YYYY-MM-DD` or `year=YYYY/month=MM/day=DD` (Firehose's default and its dynamic
partitioning). It is the day the object was written (Firehose: the arrival of its oldest
record, UTC), so it is never earlier than the rows in it, as the contract's plausibility bound
needs. An object with no date in its key is reported as a stray and never read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from adapters import connect, zendesk
from adapters.records import json_document, json_stream
from configs.limits import ReadLimits
from configs.vendors import VendorMapping
from ingestion.readers import UnreadableFile
from storage import ObjectInfo, Storage, is_s3
from transforms.schemas.base import MALFORMED

if TYPE_CHECKING:  # ingestion reads through this module
    from ingestion.ingest import ExportObject

ZENDESK_TICKETS = "zendesk-tickets"
ZENDESK_EVENTS = "zendesk-ticket-events"
CONNECT_CTR = "connect-ctr"
VENDOR_FORMATS = (ZENDESK_TICKETS, ZENDESK_EVENTS, CONNECT_CTR)
LENS_READERS = 16  # Contact Lens files read at once (small objects: latency-bound)

_DAY = re.compile(
    r"(?:^|/)(?:(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})(?:/|$)"
    r"|export_date=(?P<iso>\d{4}-\d{2}-\d{2})(?:/|$)"
    r"|year=(?P<py>\d{4})/month=(?P<pm>\d{1,2})/day=(?P<pd>\d{1,2})(?:/|$))"
)
log = logging.getLogger(__name__)

_LENS_KEY = re.compile(
    r"(?P<contact>[0-9A-Za-z-]+)_analysis_(?:redacted_)?(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)\.json$"
)


def key_day(relative_key: str) -> date | None:
    """The export day in a key below its prefix (the first date written in a known form)."""
    found = _DAY.search(relative_key)
    if not found:
        return None
    try:
        if found["iso"]:
            return date.fromisoformat(found["iso"])
        if found["y"]:
            return date(int(found["y"]), int(found["m"]), int(found["d"]))
        return date(int(found["py"]), int(found["pm"]), int(found["pd"]))
    except ValueError:
        return None


def is_hidden(relative_key: str) -> bool:
    """Markers and temporary objects (`_SUCCESS`, `.tmp/...`), as in a contract landing."""
    return any(part.startswith(("_", ".")) for part in relative_key.split("/"))


@dataclass
class VendorLanding:
    """The vendors' objects in one landing store, read with one mapping.

    The users directory and the Contact Lens index are built once per ingest (first use): every
    object of the run maps with the same snapshot of them.
    """

    storage: Storage
    mapping: VendorMapping
    limits: ReadLimits = field(default_factory=ReadLimits)
    _directory: zendesk.Directory | None = None
    _lens_days: dict[date, dict[str, tuple[str, str]]] = field(default_factory=dict)
    # Contact records read earlier (ContactId -> method and queue): the store's calls, through
    # `stored_legs`, and the records read so far in this ingest.
    stored_legs: Callable[[list[str], date, date], dict[str, dict[str, Any]]] | None = None
    _legs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def prefix(self, entity: str) -> str:
        return self.mapping.prefixes()[entity]

    def format(self, entity: str) -> str:
        return {"tickets": ZENDESK_TICKETS, "ticket_events": ZENDESK_EVENTS, "calls": CONNECT_CTR}[entity]

    def listed(self, entity: str) -> list[tuple[ObjectInfo, date | None]]:
        """Each object under the entity's prefix (markers left out) with its export day."""
        prefix = self.prefix(entity)
        out = []
        for info in self.storage.list(prefix, hashed=False):
            relative = info.key.removeprefix(prefix)
            if info.key.endswith("/") or is_hidden(relative):
                continue
            out.append((info, key_day(relative)))
        return out

    # --- reading one object -------------------------------------------------------------------

    def rows(self, fmt: str, data: bytes) -> pl.DataFrame:
        """The object's contract rows as text (+ source_row and the unmappable/malformed mark)."""
        if fmt == ZENDESK_TICKETS:
            return zendesk.ticket_rows(
                json_document(data, self.limits), self.mapping.zendesk, self.directory()
            ).frame()
        if fmt == ZENDESK_EVENTS:
            return zendesk.event_rows(
                json_document(data, self.limits), self.mapping.zendesk, self.directory()
            ).frame()
        if fmt == CONNECT_CTR:
            records = list(json_stream(data, self.limits))
            usable = [(n, r) for n, r in records if connect.well_shaped(r)]
            self._link(usable)
            return connect.call_rows(
                records, self.mapping.connect, self.lens([r for _, r in usable]), self._legs
            ).frame()
        raise ValueError(f"not a vendor format: {fmt}")

    def _link(self, records: Sequence[tuple[int, dict[str, Any] | None]]) -> None:
        """Fetch from the store the next legs these records name that this ingest has not read
        (a transfer or callback written into an earlier object), so a contact links to them
        whichever object it came in."""
        present = {r.get("ContactId") for _, r in records if r}
        wanted = {r.get("NextContactId") for _, r in records if r} - set(self._legs) - present - {None}
        if wanted and self.stored_legs is not None:
            days = sorted(
                {day for _, r in records if r and r.get("NextContactId") in wanted for day in _record_days(r)}
            )
            if days:  # a next leg starts when its contact ends: look a day either side
                first, last = days[0] - timedelta(days=1), days[-1] + timedelta(days=1)
                self._legs.update(self.stored_legs(sorted(str(w) for w in wanted), first, last))

    def preload_legs(self, objects: Iterable[ExportObject]) -> dict[str, dict[str, Any]]:
        """Read the transfer and callback legs of these contact-record objects before any is
        converted, so a contact links to its next leg whichever object of the ingest Firehose
        wrote it into (a leg's record is written when the leg ends, usually into a later object
        than the contact's). Returns them by ContactId. An object that cannot be read is left
        to its own read, which quarantines it."""
        found: dict[str, dict[str, Any]] = {}
        for obj in objects:
            if not obj.is_safe_key or obj.size > self.limits.max_decompressed_bytes:
                continue
            try:
                records = list(json_stream(self.storage.read_bytes(obj.key), self.limits))
            except UnreadableFile:
                continue
            found.update({r["ContactId"]: connect.leg(r) for _, r in records if connect.is_linked_leg(r)})
        self._legs.update(found)
        return found

    def unknown_users(self, obj: ExportObject) -> int | None:
        """How many of a Zendesk event object's records the users export cannot place now (None:
        the object cannot be read): converted in memory, nothing written."""
        try:
            rows = self.rows(self.format(obj.entity), self.storage.read_bytes(obj.key))
        except UnreadableFile:
            return None
        if MALFORMED not in rows.columns:
            return 0
        return int(rows[MALFORMED].str.contains(zendesk.UNKNOWN_USER, literal=True).sum())

    def directory(self) -> zendesk.Directory:
        """Every users page under the users prefix, newest snapshot per user."""
        if self._directory is None:
            directory = zendesk.Directory()
            prefix = self.mapping.zendesk.users_prefix
            for info in sorted(self.storage.list(prefix, hashed=False), key=lambda i: i.key):
                if info.key.endswith("/") or is_hidden(info.key.removeprefix(prefix)):
                    continue
                directory.add_page(
                    json_document(self.storage.read_bytes(info.key), self.limits), self.mapping.zendesk
                )
            self._directory = directory
        return self._directory

    def lens(self, records: list[dict[str, Any]]) -> dict[str, connect.LensSummary]:
        """The Contact Lens summaries of these contact records (the newest analysis of each;
        the original file, else its redacted twin: the figures are the same). Only the day
        folders a record's own times point at are listed, and the files are read concurrently
        (a large centre writes 30,000 of them a day)."""
        days = sorted({day for r in records for day in _record_days(r)})
        index: dict[str, tuple[str, str]] = {}
        for day in days:
            index.update(self._lens_day(day))
        wanted = {
            contact: index[contact]
            for r in records
            if isinstance(contact := r.get("ContactId"), str) and contact in index
        }
        keys = [key for _, key in wanted.values()]
        if is_s3(self.storage.uri):  # many small GETs: latency-bound, so several at once
            with ThreadPoolExecutor(max_workers=LENS_READERS) as pool:
                documents = list(pool.map(self.storage.read_bytes, keys))
        else:  # a folder: threads only add lock hand-offs
            documents = [self.storage.read_bytes(key) for key in keys]
        summaries = {}
        for (contact, (analysed_at, key)), data in zip(wanted.items(), documents, strict=True):
            summary = self._summary(key, data, analysed_at)
            if summary is not None:
                summaries[contact] = summary
        return summaries

    def _summary(self, key: str, data: bytes, analysed_at: str) -> connect.LensSummary | None:
        """One analysis file's summary; None when the file cannot be read (cut short, not JSON,
        fields of other types). Its call is then read without Contact Lens values, not lost with
        the contact records beside it, and read again when a readable analysis lands
        (`ingestion.incremental._with_late_analyses`)."""
        try:
            return connect.lens_summary(json_document(data, self.limits), analysed_at)
        except (UnreadableFile, AttributeError, TypeError, ValueError) as exc:
            log.warning("Contact Lens file %s cannot be read (%s): its call has no analysis", key, exc)
            return None

    def recent_lens(self, newest: date, days: int) -> dict[str, str]:
        """Contact -> analysis time of the Contact Lens files in the `days` day folders up to
        `newest`: what a contact record ingested before its analysis landed is checked against."""
        found: dict[str, str] = {}
        for back in range(days):
            found |= {c: t for c, (t, _) in self._lens_day(newest - timedelta(days=back)).items()}
        return found

    def _lens_day(self, day: date) -> dict[str, tuple[str, str]]:
        """Contact -> (analysis time, key) of one day folder (and its Redacted twin), cached."""
        if day not in self._lens_days:
            best: dict[str, tuple[str, bool, str, str]] = {}
            prefix = self.mapping.connect.contact_lens_prefix
            folder = f"{day:%Y/%m/%d}/"
            for place in (prefix + folder, f"{prefix}Redacted/{folder}"):
                for info in self.storage.list(place, hashed=False):
                    found = _LENS_KEY.search(info.key)
                    if not found:
                        continue
                    rank = (_instant(found["time"]), place == prefix + folder, info.key, found["time"])
                    if rank > best.get(found["contact"], ("", False, "", "")):
                        best[found["contact"]] = rank
            self._lens_days[day] = {contact: (time, key) for contact, (_, _, key, time) in best.items()}
        return self._lens_days[day]


def _instant(stamp: str) -> str:
    """A key's UTC time in a form that sorts as time does: `14:01:00Z` before `14:01:00.500Z`
    (as text, `Z` sorts after `.`)."""
    whole, _, fraction = stamp.removesuffix("Z").partition(".")
    return f"{whole}.{fraction.ljust(9, '0')[:9]}"


def _record_days(record: dict[str, Any]) -> set[date]:
    """The UTC days a contact's analysis file may be filed under: those of its initiation,
    agent connection and disconnection (a call across midnight spans two)."""
    agent = record.get("Agent") or {}
    stamps = (
        record.get("InitiationTimestamp"),
        agent.get("ConnectedToAgentTimestamp"),
        record.get("DisconnectTimestamp"),
    )
    days = set()
    for stamp in stamps:
        if isinstance(stamp, str) and len(stamp) >= 10:
            try:
                days.add(date.fromisoformat(stamp[:10]))
            except ValueError:
                continue
    return days
