"""The warehouse lease (warehouse/lock.py): one holder per scope, on a folder and on S3."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from storage import parse_s3_uri, s3_client
from warehouse.lock import Lease, LeaseLost, LockHeld, _S3Lease, hold


def test_a_folder_lease_refuses_a_second_holder_and_names_the_first(tmp_path):
    with hold(str(tmp_path), "audit-day-2026-11-20", "run-a"):
        with (
            pytest.raises(
                LockHeld, match=r"audit-day-2026-11-20 is being written by run run-a on .* \(pid \d+\)"
            ),
            hold(str(tmp_path), "audit-day-2026-11-20", "run-b"),
        ):
            pass
        with hold(str(tmp_path), "audit-day-2026-11-21", "run-b"):  # another day: its own lease
            pass
    with hold(str(tmp_path), "audit-day-2026-11-20", "run-b"):  # released
        pass


def test_a_folder_lease_waits_for_its_holder(tmp_path):
    released = threading.Event()

    def first() -> None:
        with hold(str(tmp_path), "ingest", "run-a"):
            time.sleep(1.0)
        released.set()

    holder = threading.Thread(target=first)
    holder.start()
    time.sleep(0.3)
    started = time.monotonic()
    with hold(str(tmp_path), "ingest", "run-b", wait_seconds=10):
        assert released.is_set() and time.monotonic() - started >= 0.5
    holder.join()


def test_a_killed_holder_frees_a_folder_lease_at_once(tmp_path):
    code = (
        "import os, signal, sys; from warehouse.lock import hold\n"
        f"with hold({str(tmp_path)!r}, 'ingest', 'doomed'):\n"
        "    print('held', flush=True); os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == -signal.SIGKILL and done.stdout == "held\n"
    with hold(str(tmp_path), "ingest", "next"):
        pass


@pytest.mark.integration
def test_an_s3_lease_is_exclusive_and_released(s3_bucket):
    warehouse = s3_bucket.uri("audit")
    with (
        hold(warehouse, "audit-day-2026-11-20", "run-a", s3=s3_bucket.settings),
        pytest.raises(LockHeld, match="being written by run run-a"),
        hold(warehouse, "audit-day-2026-11-20", "run-b", s3=s3_bucket.settings),
    ):
        pass
    with hold(warehouse, "audit-day-2026-11-20", "run-b", s3=s3_bucket.settings):
        pass
    bucket, prefix = parse_s3_uri(warehouse)
    listed = s3_client(s3_bucket.settings).list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/_locks/")
    assert listed.get("KeyCount", 0) == 0  # released: the lease object is gone


@pytest.mark.integration
def test_an_expired_s3_lease_is_taken_over_and_its_old_holder_learns_it(s3_bucket):
    warehouse = s3_bucket.uri("audit")
    bucket, prefix = parse_s3_uri(warehouse)
    client = s3_client(s3_bucket.settings)
    dead = _S3Lease(client, bucket, f"{prefix}/_locks/ingest.json", "stalled-run", lease_seconds=1.0)
    dead.acquire("ingest", wait_seconds=0)  # a holder that then stops renewing (stalled or dead)
    with (
        pytest.raises(LockHeld, match="stalled-run"),
        hold(warehouse, "ingest", "run-b", s3=s3_bucket.settings),
    ):
        pass
    time.sleep(2.1)  # expiry is judged on the store clock, to the second
    with hold(warehouse, "ingest", "run-b", s3=s3_bucket.settings, lease_seconds=30):
        assert dead._put(IfMatch=dead.etag) is False  # the stalled holder's renewal is refused


@pytest.mark.integration
def test_a_holder_whose_renewal_is_refused_stops_before_its_next_commit(s3_bucket):
    warehouse = s3_bucket.uri("audit")
    bucket, prefix = parse_s3_uri(warehouse)
    client = s3_client(s3_bucket.settings)
    with hold(warehouse, "ingest", "run-a", s3=s3_bucket.settings, lease_seconds=1.5) as lease:
        # Another run overwrites the lease object (as a takeover after expiry would).
        client.put_object(Bucket=bucket, Key=f"{prefix}/_locks/ingest.json", Body=b'{"owner": "run-b"}')
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                lease.check()
            except LeaseLost as lost:
                assert "another run took it over" in str(lost)
                break
            time.sleep(0.1)
        else:
            pytest.fail("the lost lease was never noticed")


@pytest.mark.integration
def test_racing_s3_acquirers_get_one_lease(s3_bucket):
    warehouse = s3_bucket.uri("audit")
    holders: list[str] = []
    gate = threading.Barrier(4)

    def contend(owner: str) -> None:
        gate.wait()
        try:
            with hold(warehouse, "audit-day-2026-11-20", owner, s3=s3_bucket.settings):
                holders.append(owner)
                time.sleep(1.0)
        except LockHeld:
            pass

    threads = [threading.Thread(target=contend, args=(f"run-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(holders) == 1


def test_the_lock_module_keeps_its_files_private(tmp_path):
    with hold(str(tmp_path), "ingest", "run-a"):
        mode = os.stat(Path(tmp_path) / "_locks" / "ingest.lock").st_mode & 0o777
    assert mode == 0o600


@pytest.mark.integration
def test_a_holder_that_cannot_renew_stops_before_the_lease_could_expire(s3_bucket, monkeypatch):
    from warehouse import lock

    warehouse = s3_bucket.uri("audit")
    with hold(warehouse, "ingest", "run-a", s3=s3_bucket.settings, lease_seconds=2.0) as lease:
        lease.check()  # just taken: fine
        monkeypatch.setattr(
            lock._S3Lease, "_put", lambda self, **condition: (_ for _ in ()).throw(OSError("down"))
        )
        time.sleep(1.7)  # past 3/4 of the lease without a renewal
        with pytest.raises(LeaseLost, match="its last renewal is too old"):
            lease.check()
        monkeypatch.undo()


@pytest.mark.integration
def test_a_release_racing_a_takeover_leaves_the_new_holders_lease(s3_bucket):
    """The old holder reads its own lease, then the lease is taken over before its delete: the
    delete is conditional on the old holder's ETag, so it fails and the new lease stays."""
    warehouse = s3_bucket.uri("audit")
    bucket, prefix = parse_s3_uri(warehouse)
    key = f"{prefix}/_locks/ingest.json"
    client = s3_client(s3_bucket.settings)
    old = _S3Lease(client, bucket, key, "old-run", lease_seconds=1.0)
    old.acquire("ingest", wait_seconds=0)
    seen = old._current()  # what release() reads: still the old holder's token
    new = _S3Lease(client, bucket, key, "new-run", lease_seconds=30.0)
    time.sleep(2.1)
    new.acquire("ingest", wait_seconds=0)  # the expired lease taken over
    old._current = lambda: seen  # type: ignore[method-assign]
    old.release()
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert b'"owner": "new-run"' in body
    new.release()
    assert client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/_locks/").get("KeyCount", 0) == 0


@pytest.mark.integration
def test_a_holder_whose_clock_is_behind_keeps_its_lease(s3_bucket):
    """A lease written a moment ago by a host whose clock is an hour behind (its own expiry is
    long past by the waiter's clock) is still held: expiry is judged on the store's clock."""
    import json

    warehouse = s3_bucket.uri("audit")
    bucket, prefix = parse_s3_uri(warehouse)
    body = {"owner": "slow-clock-run", "host": "h", "pid": 1, "acquired_at": "2026-12-06T18:00:00+00:00"}
    body |= {"token": "t", "expires_at": time.time() - 3600, "lease_seconds": 30}
    s3_client(s3_bucket.settings).put_object(
        Bucket=bucket, Key=f"{prefix}/_locks/ingest.json", Body=json.dumps(body).encode()
    )
    with (
        pytest.raises(LockHeld, match="slow-clock-run"),
        hold(warehouse, "ingest", "run-b", s3=s3_bucket.settings),
    ):
        pass


@pytest.mark.parametrize(
    ("written", "answered", "lease", "expired"),
    [
        ("Sun, 06 Dec 2026 19:00:00 GMT", "Sun, 06 Dec 2026 19:00:30 GMT", 30, False),
        ("Sun, 06 Dec 2026 19:00:00 GMT", "Sun, 06 Dec 2026 19:00:31 GMT", 30, True),
    ],
)
def test_lease_expiry_is_the_age_of_the_last_write_on_the_stores_clock(written, answered, lease, expired):
    from email.utils import parsedate_to_datetime

    from warehouse.lock import _expired

    body = {"expires_at": time.time() + 3600} | ({"lease_seconds": lease} if lease else {})
    got = {
        "LastModified": parsedate_to_datetime(written),
        "ResponseMetadata": {"HTTPHeaders": {"date": answered}},
    }
    assert _expired(body, got) is expired


@pytest.mark.parametrize(
    ("body", "got", "expired"),
    [
        ({}, {}, True),  # unreadable: expired
        # An older version's lease (no lease_seconds): its own expiry, on this host's clock.
        ({"expires_at": time.time() + 3600}, {}, False),
        ({"expires_at": time.time() - 1}, {}, True),
        # A store answer without LastModified, or with a Date nobody can parse: the same fallback.
        ({"lease_seconds": 30, "expires_at": time.time() + 3600}, {"ResponseMetadata": {}}, False),
        (
            {"lease_seconds": 30, "expires_at": time.time() + 3600},
            {"LastModified": None, "ResponseMetadata": {"HTTPHeaders": {"date": "not a date"}}},
            False,
        ),
    ],
)
def test_a_lease_the_store_clock_cannot_judge_falls_back_to_its_own_expiry(body, got, expired):
    from warehouse.lock import _expired

    assert _expired(body, got) is expired


def test_a_date_in_minus_zero_is_utc():
    import datetime as dt

    from warehouse.lock import _expired

    written = dt.datetime(2026, 12, 6, 19, 0, tzinfo=dt.UTC)
    got = {
        "LastModified": written,
        "ResponseMetadata": {"HTTPHeaders": {"date": "Sun, 06 Dec 2026 19:00:40 -0000"}},
    }
    assert _expired({"lease_seconds": 30}, got) is True
    assert _expired({"lease_seconds": 60}, got) is False


class _AnswerLost:
    """The S3 client, but the next `lost` conditional writes (or deletes) reach the store and
    their answer is lost: what the SDK's retry of such a request meets is our own write, and
    its condition fails (412), as a dropped connection after the store acted gives."""

    def __init__(self, client, lost: int = 1) -> None:
        self._client, self.lost = client, lost

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_object(self, **request):
        out = self._client.put_object(**request)
        if self.lost and ("IfNoneMatch" in request or "IfMatch" in request):
            self.lost -= 1
            from botocore.exceptions import ClientError

            error = {"Error": {"Code": "PreconditionFailed", "Message": "At least one of the preconditions"}}
            raise ClientError(error, "PutObject")
        return out


@pytest.mark.integration
def test_a_lease_whose_answer_was_lost_is_ours_not_another_runs(s3_bucket):
    """The create went through, its answer was lost, the retry was refused: the run reads its
    own token and holds the lease (it used to exit 6 blaming "another run", and block every
    run for the lease's length)."""
    warehouse = s3_bucket.uri("audit")
    bucket, prefix = parse_s3_uri(warehouse)
    key = f"{prefix}/_locks/audit-day.json"
    client = s3_client(s3_bucket.settings)
    lease = _S3Lease(_AnswerLost(client), bucket, key, "run-a", lease_seconds=30.0)
    lease.acquire("audit-day", wait_seconds=0)
    assert lease.etag == client.head_object(Bucket=bucket, Key=key)["ETag"]
    assert lease.renewed_at > time.time() - 5
    other = _S3Lease(client, bucket, key, "run-b", lease_seconds=30.0)
    with pytest.raises(LockHeld, match="run run-a"):
        other.acquire("audit-day", wait_seconds=0)
    lease.release()
    assert client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/_locks/").get("KeyCount", 0) == 0


@pytest.mark.integration
def test_a_renewal_whose_answer_was_lost_keeps_the_lease_and_its_release_frees_it(s3_bucket):
    """The renewal went through but its answer was lost: the holder still holds the lease (it
    used to lose it), and its release deletes it (the release used the ETag before the
    renewal, failed, and left the lease to block the next runs)."""
    warehouse = s3_bucket.uri("audit")
    bucket, prefix = parse_s3_uri(warehouse)
    key = f"{prefix}/_locks/ingest.json"
    client = s3_client(s3_bucket.settings)
    flaky = _AnswerLost(client, lost=0)
    holder = _S3Lease(flaky, bucket, key, "run-a", lease_seconds=1.5)
    holder.acquire("ingest", wait_seconds=0)
    first = holder.etag
    flaky.lost = 1  # the first renewal's answer is lost
    state = Lease("ingest", expires_at=lambda: holder.renewed_at + 1.5, margin=0.3)
    stop = threading.Event()
    renewer = threading.Thread(target=holder.renew_until, args=(stop, state), daemon=True)
    renewer.start()
    time.sleep(1.3)  # two renewals (every 0.5 s): the first lost its answer
    state.check()  # still ours
    stop.set()
    renewer.join()
    assert flaky.lost == 0 and holder.etag != first
    holder.release()
    assert client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/_locks/").get("KeyCount", 0) == 0
