"""One writer per warehouse scope: a lease held while a run writes an audit day or the store.

Two runs of the same audit day (a scheduled run and a backfill, two hosts, a retry that
overlaps a stalled attempt) must never interleave their commits. The lease lives beside the
tables, so it works wherever the warehouse is:

- **Folder**: an exclusive `fcntl.flock` on `_locks/<scope>.lock`. The kernel releases it
  when the holder's process dies (SIGKILL included), so a dead holder never blocks anyone.
- **S3**: the object `_locks/<scope>.json`, created with `If-None-Match: *` (S3 conditional
  writes: exactly one creator wins). It names its holder and an expiry; the holder renews it
  every third of the lease with `If-Match: <its ETag>`, so a holder that dies stops renewing
  and its lease expires. Expiry is judged on the store's clock (the object's last write
  against the `Date` of the store's answer), so hosts with different clocks agree. A waiting
  run takes over an expired lease with `If-Match` on the ETag it saw expire, so two waiters
  never both take it; a holder releases with `If-Match` on its own last ETag.

A holder that fails to renew (its lease was taken after a long stall) learns it at its next
`check()`, which the publisher calls before every commit: it stops rather than mix a day.

A conditional write whose answer is lost (the connection drops after the store applied it)
is retried by the SDK, and the retry fails its condition against our own write. Each lease
object carries a random token of its writer, so a failed write first reads the object: if the
token is ours, the write happened, and the holder adopts its ETag instead of taking itself for
another run (or for having lost the lease).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from configs.settings import S3Settings
from storage import is_s3, parse_s3_uri, s3_client

log = logging.getLogger(__name__)

LOCK_PREFIX = "_locks"
DEFAULT_LEASE_SECONDS = 120.0
DEFAULT_WAIT_SECONDS = 0.0
POLL_SECONDS = 0.5
# S3's answers to a conditional write that lost (412; 409 when two race on one key).
CONDITION_FAILED = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


class LockHeld(RuntimeError):
    """Another run holds the lease of this scope (and did not let go within the wait)."""


class LeaseLost(RuntimeError):
    """This run's lease expired and another run took it: stop before writing anything more."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lease: enough for the message a second run prints."""

    owner: str  # the run id
    host: str
    pid: int
    acquired_at: str

    def describe(self) -> str:
        return f"run {self.owner} on {self.host} (pid {self.pid}) since {self.acquired_at}"


def _me(owner: str) -> Holder:
    return Holder(
        owner, socket.gethostname(), os.getpid(), dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )


class Lease:
    """A held lease; `check()` raises LeaseLost once it is no longer ours: the renewer said
    so, or (an expiring lease) the last renewal is too old for the lease to still be certain."""

    def __init__(
        self, scope: str, expires_at: Callable[[], float] | None = None, margin: float = 0.0
    ) -> None:
        self.scope = scope
        self._lost: str | None = None
        self._expires_at, self._margin = expires_at, margin

    def lose(self, why: str) -> None:
        self._lost = why

    def check(self) -> None:
        if (
            not self._lost
            and self._expires_at is not None
            and time.time() > self._expires_at() - self._margin
        ):
            self._lost = "its last renewal is too old (the store did not answer)"
        if self._lost:
            raise LeaseLost(f"lease on {self.scope!r} lost: {self._lost}; stopping before the next commit")


@contextlib.contextmanager
def hold(
    warehouse_uri: str,
    scope: str,
    owner: str,
    *,
    s3: S3Settings | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> Iterator[Lease]:
    """Hold the lease of `scope` in this warehouse for the block; wait up to `wait_seconds`
    for another holder, then raise LockHeld naming it."""
    if is_s3(warehouse_uri):
        with _hold_s3(warehouse_uri, scope, owner, s3, wait_seconds, lease_seconds) as lease:
            yield lease
    else:
        with _hold_folder(Path(warehouse_uri), scope, owner, wait_seconds) as lease:
            yield lease


# --- folders ------------------------------------------------------------------------------


@contextlib.contextmanager
def _hold_folder(root: Path, scope: str, owner: str, wait_seconds: float) -> Iterator[Lease]:
    folder = root / LOCK_PREFIX
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{scope}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeld(_held_message(scope, _read_holder_file(path))) from None
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_me(owner).__dict__).encode(), 0)
        try:
            yield Lease(scope)
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder_file(path: Path) -> Holder | None:
    try:
        return Holder(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _held_message(scope: str, holder: Holder | None) -> str:
    who = holder.describe() if holder else "another run"
    return (
        f"{scope} is being written by {who}; this run would mix its commits with it. "
        "Wait for it to finish (a dead holder's lease expires on its own) and run again"
    )


# --- S3 -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _hold_s3(
    warehouse_uri: str,
    scope: str,
    owner: str,
    s3: S3Settings | None,
    wait_seconds: float,
    lease_seconds: float,
) -> Iterator[Lease]:
    bucket, prefix = parse_s3_uri(warehouse_uri)
    key = f"{prefix.rstrip('/')}/{LOCK_PREFIX}/{scope}.json".lstrip("/")
    lock = _S3Lease(s3_client(s3 or S3Settings.model_validate({})), bucket, key, owner, lease_seconds)
    lock.acquire(scope, wait_seconds)
    # A commit must start well inside the lease: a quarter of it is left for the commit itself
    # and for clocks that differ between hosts.
    lease = Lease(scope, expires_at=lambda: lock.renewed_at + lease_seconds, margin=lease_seconds / 4)
    stop = threading.Event()
    renewer = threading.Thread(
        target=lock.renew_until, args=(stop, lease), daemon=True, name=f"lease-{scope}"
    )
    renewer.start()
    try:
        yield lease
    finally:
        stop.set()
        renewer.join()
        lock.release()


def _expired(body: dict[str, Any], got: dict[str, Any]) -> bool:
    """Whether a lease object has gone unrenewed for longer than its lease, measured on the
    store's clock: its last write (`LastModified`) against the time in the store's answer (the
    HTTP `Date` header), so hosts whose clocks differ agree on it (to the store's 1-second
    resolution). Without those (a store that omits them, a lease an older version wrote without
    `lease_seconds`): the holder's own `expires_at` against this host's clock. An unreadable
    body is expired."""
    lease = body.get("lease_seconds")
    age = _age_on_store_clock(got)
    if isinstance(lease, int | float) and age is not None:
        return age > lease
    expires = body.get("expires_at")
    return not isinstance(expires, int | float) or expires < time.time()


def _age_on_store_clock(got: dict[str, Any]) -> float | None:
    """Seconds since the object's last write, by the store's clock; None if it cannot tell."""
    written = got.get("LastModified")
    date = got.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if not isinstance(written, dt.datetime) or not date:
        return None
    try:
        now = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    if now.tzinfo is None:  # "-0000": UTC by RFC 5322
        now = now.replace(tzinfo=dt.UTC)
    if written.tzinfo is None:
        written = written.replace(tzinfo=dt.UTC)
    return (now - written).total_seconds()


class _S3Lease:
    """The lease object and its conditional writes."""

    def __init__(self, client: Any, bucket: str, key: str, owner: str, lease_seconds: float) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        self.holder, self.lease_seconds = _me(owner), lease_seconds
        self.token = uuid.uuid4().hex  # tells our own lease from another run's, same owner or not
        self.etag: str | None = None
        self.renewed_at = 0.0

    def _body(self) -> bytes:
        expires = time.time() + self.lease_seconds  # for people reading the object
        fields = {"token": self.token, "expires_at": expires, "lease_seconds": self.lease_seconds}
        return json.dumps({**self.holder.__dict__, **fields}).encode()

    def _put(self, **condition: str) -> bool:
        from botocore.exceptions import ClientError

        started = time.time()  # the lease runs from the write's start, not from its answer
        try:
            out = self.client.put_object(Bucket=self.bucket, Key=self.key, Body=self._body(), **condition)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in CONDITION_FAILED:
                return False
            raise
        self.etag, self.renewed_at = out["ETag"], started
        return True

    def _current(self) -> tuple[dict[str, Any], str] | None:
        """The lease object's body (plus `expired`) and ETag, or None when there is none."""
        from botocore.exceptions import ClientError

        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        try:
            body = json.loads(got["Body"].read())
        except ValueError:
            body = {}
        return {**body, "expired": _expired(body, got)}, got["ETag"]

    def _ours(self, current: tuple[dict[str, Any], str] | None) -> bool:
        """Whether the lease object is our own write (our token), and if so adopt its ETag and
        write time: a write of ours whose answer was lost, the SDK's retry then refused."""
        if current is None or current[0].get("token") != self.token:
            return False
        body, self.etag = current
        written = body.get("expires_at")  # this host's clock at our write, plus the lease
        if isinstance(written, int | float):
            self.renewed_at = max(self.renewed_at, written - self.lease_seconds - 1.0)
        return True

    def _still_ours(self) -> bool:
        """After a refused renewal: whether the lease is ours after all (the renewal happened,
        its answer was lost). Unknown (the store did not answer the read) counts as lost."""
        try:
            return self._ours(self._current())
        except Exception as exc:
            log.warning("lease %s: could not read it after a refused renewal (%s)", self.key, exc)
            return False

    def acquire(self, scope: str, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        while True:
            if self._put(IfNoneMatch="*"):
                return
            current = self._current()
            if current is None:
                continue  # released between our put and our read: try again at once
            if self._ours(current):
                log.info("lease %s: our write's answer was lost; it is ours", self.key)
                return
            body, etag = current
            if body["expired"] and self._put(IfMatch=etag):
                return  # an expired lease, taken over by exactly one waiter
            if time.monotonic() >= deadline:
                known = {k: body.get(k) for k in ("owner", "host", "pid", "acquired_at")}
                holder = Holder(**known) if all(v is not None for v in known.values()) else None  # type: ignore[arg-type]
                raise LockHeld(_held_message(scope, holder))
            time.sleep(POLL_SECONDS)

    def renew_until(self, stop: threading.Event, lease: Lease) -> None:
        """Renew every third of the lease until stopped; a failed renewal loses the lease."""
        while not stop.wait(self.lease_seconds / 3):
            try:
                renewed = self.etag is not None and self._put(IfMatch=self.etag)
            except Exception as exc:  # an unreachable store: keep trying until the lease runs out
                if time.time() > self.renewed_at + self.lease_seconds:
                    lease.lose(f"could not renew it ({exc})")
                    return
                continue
            if not renewed and not self._still_ours():
                lease.lose("another run took it over after it expired")
                return

    def release(self) -> None:
        """Delete the lease if it is still ours (a taken-over lease is the new holder's).

        The delete is conditional on the ETag of our last write (S3 `If-Match` on DeleteObject):
        a takeover between our read and our delete makes it fail instead of removing the new
        holder's lease. The token check first keeps stores that ignore the condition safe but
        for that instant."""
        from botocore.exceptions import ClientError

        current = self._current()
        if current is None or current[0].get("token") != self.token:
            return
        try:  # the ETag read with our token: a renewal whose answer was lost moved it past ours
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=current[1])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in (*CONDITION_FAILED, "NoSuchKey", "404"):
                # The work is done; a lease left behind expires by itself.
                log.warning("could not release the lease %s (%s); it expires by itself", self.key, exc)
