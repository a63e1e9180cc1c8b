"""Zendesk + Connect exports through the whole pipeline: the landing as the vendors write it, the
incremental store, the audit of 2026-03-02, on a folder and through the local S3 endpoint.

Every expected figure is worked out by hand from tests/vendors/vendor_fixtures.py."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from configs.limits import InputRules
from configs.policy import load_policy
from configs.vendors import VendorMapping
from flows.windows import data_cutoff
from ingestion.incremental import IngestReport, ingest_to_store
from storage import LocalStorage, Storage
from tests.conftest import S3Bucket
from tests.vendors import vendor_fixtures as fx
from transforms.audit import collect_audit, run_audit
from transforms.contacts import AuditWindow
from warehouse.store import Store, audit_inputs

DAY = date(2026, 3, 2)
RULES = InputRules(vendor=VendorMapping.model_validate(tomllib.loads(fx.MAPPING_TOML)))
CTR_1 = "connect/ctr/2026/03/02/09/ctr-stream-1-2026-03-02-09-15-00-0001"
CTR_2 = "connect/ctr/2026/03/02/10/ctr-stream-1-2026-03-02-10-00-05-0002"

# Per object: rows read, accepted, quarantined, duplicate, superseded.
EXPECTED_COUNTS = {
    # 1001 (a duplicate: the re-polled page 2 holds the same snapshot), 1002, 1003 (deleted).
    "zendesk/tickets/2026/03/02/page-0001.json": (3, 1, 1, 1, 0),
    "zendesk/tickets/2026/03/02/page-0002.json": (2, 2, 0, 0, 0),
    # 16 contract events; the deleted ticket's status change and an unknown user's comment.
    "zendesk/ticket_events/2026/03/02/page-0001.json": (18, 16, 2, 0, 0),
    # A (superseded by its re-delivery), B, C, D; the MONITOR record.
    CTR_1: (5, 4, 1, 0, 1),
    CTR_2: (1, 1, 0, 0, 0),
}


def _ingest(landing: Storage, store: Store, run_id: str) -> IngestReport:
    return ingest_to_store(landing, store, run_id=run_id, rules=RULES)


def _counts(report: IngestReport) -> dict[str, tuple[int, ...]]:
    columns = ["rows_read", "rows_accepted", "rows_quarantined", "rows_duplicate", "rows_superseded"]
    return {
        row["object_key"]: tuple(row[c] for c in columns) for row in report.objects_read.iter_rows(named=True)
    }


def _audit(store: Store) -> dict[str, pl.DataFrame]:
    tables = audit_inputs(store, DAY - timedelta(days=1), DAY + timedelta(days=1))
    # Windows closed (as if exports ran 10 days on): every outcome is final.
    window = AuditWindow(DAY, "UTC", data_cutoff(DAY + timedelta(days=10), DAY, "UTC"))
    return collect_audit(run_audit(tables, window, load_policy(None)))


def _check_counts_and_quarantine(report: IngestReport) -> None:
    counts = _counts(report)
    assert counts == EXPECTED_COUNTS
    for read, accepted, quarantined, duplicate, _ in counts.values():
        assert read == accepted + quarantined + duplicate
    reasons = report.quarantine.select("object_key", "row_number", "reason", "detail").sort(
        "object_key", "row_number"
    )
    events, tickets, unmappable = (
        "zendesk/ticket_events/2026/03/02/page-0001.json",
        "zendesk/tickets/2026/03/02/page-0001.json",
        "unmappable_vendor_record",
    )
    deleted = "status: a deleted ticket has no contract status"
    assert reasons.rows() == [
        (
            CTR_1,
            5,
            unmappable,
            "record 5.InitiationMethod: MONITOR: a supervisor monitoring a call is not a call leg",
        ),
        (events, 17, unmappable, f"ticket_events[9].child_events[0].{deleted}"),
        (
            events,
            18,
            unmappable,
            "ticket_events[10].child_events[0].author_id: the user is not in the users export"
            " (zendesk.users_prefix)",
        ),
        (tickets, 3, unmappable, f"tickets[2].{deleted}"),
    ]


def _check_audit(tables: dict[str, pl.DataFrame]) -> None:
    agents = {row["agent_id"]: row for row in tables["agent_scorecard"].iter_rows(named=True)}
    ana, sam = agents["501"], agents["502"]
    # Ana first solved 1001 and 1004 and answered A and the callback C; Sam answered the transfer D.
    assert (ana["tickets_solved"], ana["calls_answered"], ana["contacts"]) == (2, 2, 4)
    assert (sam["tickets_solved"], sam["calls_answered"], sam["contacts"]) == (0, 1, 1)
    assert ana["agent_interruptions"] == 3  # A's Contact Lens AGENT list (3), C's empty one (0)
    assert ana["csat_score_mean"] == 5.0  # 1001 rated good (csat_good = 5); 1004 unoffered
    # 1001: the customer wrote at 08:14:05, Ana replied in public at 09:40:11: 86.1 minutes.
    assert ana["first_reply_minutes_median"] == pytest.approx(86.1)
    assert ana["concessions"] == 1  # the 25.00 EUR refund on 1001
    escalations = {r["contact_id"]: r for r in tables["escalation_audit"].iter_rows(named=True)}
    # A: the customer asked for a manager (Contact Lens rule) and started negative (-3.1 <= -2);
    # the transfer to the supervisors' queue escalated it, on the call: timely.
    assert escalations[fx.CONTACT_A]["escalation_class"] == "timely"
    assert sorted(escalations[fx.CONTACT_A]["signals"]) == ["customer_request", "started_negative"]
    # 1004: asked at 10:40, first solved at 11:00 with no escalation (the 12:30 one came after the
    # solve), then reopened at 12:00: not resolved, so missed.
    assert escalations["1004"]["escalation_class"] == "missed"
    teams = {row["team_id"]: row for row in tables["team_scorecard"].iter_rows(named=True)}
    # Queue legs of team 77 (queue Billing): A answered after 160 s, B never answered.
    assert (teams["77"]["abandonment_numerator"], teams["77"]["abandonment_denominator"]) == (1, 2)
    assert teams["77"]["queue_wait_seconds_median"] == 160.0
    # Team 78 (Billing Supervisors): the transfer D, answered after 25 s.
    assert (teams["78"]["abandonment_numerator"], teams["78"]["abandonment_denominator"]) == (0, 1)
    assert teams["78"]["queue_wait_seconds_median"] == 25.0


def test_vendor_exports_in_a_folder_go_through_the_pipeline(tmp_path: Path) -> None:
    landing = LocalStorage(str(tmp_path / "landing"))
    fx.write_landing(landing)
    store = Store(str(tmp_path / "store"))
    report = _ingest(landing, store, "first")
    _check_counts_and_quarantine(report)
    _check_audit(_audit(store))
    again = _ingest(landing, store, "second")  # nothing new: nothing read
    assert again.objects_read.is_empty() and again.unchanged == len(EXPECTED_COUNTS)


def test_a_re_read_delivery_keeps_its_links_to_legs_stored_earlier(tmp_path: Path) -> None:
    """A's re-delivery, read alone in a later run, still finds its transfer leg D in the store."""
    landing = LocalStorage(str(tmp_path / "landing"))
    fx.write_landing(landing)
    store = Store(str(tmp_path / "store"))
    _ingest(landing, store, "first")
    landing.write_bytes(CTR_2, b'{"not": "the same"}\n' + fx.json.dumps(fx.CTR_A_AGAIN).encode())
    report = _ingest(landing, store, "second")
    assert list(_counts(report)) == [CTR_2]
    calls = audit_inputs(store, DAY, DAY).calls.collect()
    a = calls.filter(pl.col("call_id") == fx.CONTACT_A)
    assert a["escalated_to"].to_list() == ["Billing Supervisors"]


@pytest.mark.integration
def test_vendor_exports_on_s3_give_the_same_store_and_audit(s3_bucket: S3Bucket, tmp_path: Path) -> None:
    landing = s3_bucket.storage("landing")
    fx.write_landing(landing)
    store = Store(s3_bucket.uri("store"), s3_bucket.settings)
    report = _ingest(landing, store, "s3")
    _check_counts_and_quarantine(report)
    _check_audit(_audit(store))


def test_a_contact_lens_file_that_lands_after_its_record_is_joined_at_the_next_ingest(tmp_path: Path) -> None:
    landing = LocalStorage(str(tmp_path / "landing"))
    fx.write_landing(landing)
    late = f"connect/Analysis/Voice/2026/03/02/{fx.CONTACT_A}_analysis_{fx.LENS_TIME}.json"
    redacted = (
        f"connect/Analysis/Voice/Redacted/2026/03/02/{fx.CONTACT_A}_analysis_redacted_{fx.LENS_TIME}.json"
    )
    held = {key: landing.read_bytes(key) for key in (late, redacted)}
    for key in held:
        (tmp_path / "landing" / key).unlink()
    store = Store(str(tmp_path / "store"))
    _ingest(landing, store, "before")

    def call_a() -> dict[str, object]:
        calls = audit_inputs(store, DAY, DAY).calls.filter(pl.col("call_id") == fx.CONTACT_A).collect()
        return calls.select("agent_interruptions", "sentiment_start", "supervisor_requested").row(
            0, named=True
        )

    assert call_a() == {"agent_interruptions": None, "sentiment_start": None, "supervisor_requested": None}
    for key, data in held.items():
        landing.write_bytes(key, data)
    report = _ingest(landing, store, "after")
    # A's newest copy is in the second object (its re-delivery): that object is read again.
    assert list(_counts(report)) == [CTR_2]
    assert call_a() == {"agent_interruptions": 3, "sentiment_start": -3.1, "supervisor_requested": True}
    assert _ingest(landing, store, "settled").objects_read.is_empty()


# Connect writes a leg's record when the leg ends: the transfer D and the callback C end after
# the contacts A and B that they follow, so Firehose often puts them in a later object.
CTR_LATER = "connect/ctr/2026/03/02/11/ctr-stream-1-2026-03-02-11-50-00-0003"
CTR_NEXT_DAY = "connect/ctr/2026/03/03/00/ctr-stream-1-2026-03-03-00-05-00-0004"


def _split_legs(landing: Storage, legs_key: str | None) -> None:
    """The fixture landing with the legs C and D out of the first object: in `legs_key`, or not
    landed yet (None)."""
    fx.write_landing(landing)
    first = "".join(fx.json.dumps(r) for r in (fx.CTR_A, fx.CTR_B, fx.CTR_M))
    landing.write_bytes(CTR_1, first.encode())
    if legs_key is not None:
        landing.write_bytes(legs_key, "".join(fx.json.dumps(r) for r in (fx.CTR_C, fx.CTR_D)).encode())


def _links(store: Store) -> dict[str, tuple[object, object]]:
    calls = audit_inputs(store, DAY, DAY).calls.filter(pl.col("call_id").is_in([fx.CONTACT_A, fx.CONTACT_B]))
    return {r[0]: (r[1], r[2]) for r in calls.select("call_id", "escalated_to", "outcome").collect().rows()}


LINKED = {fx.CONTACT_A: ("Billing Supervisors", "resolved"), fx.CONTACT_B: (None, "callback_promised")}


def test_a_contact_links_to_its_next_leg_in_a_later_object_of_the_same_ingest(tmp_path: Path) -> None:
    landing = LocalStorage(str(tmp_path / "landing"))
    _split_legs(landing, CTR_LATER)
    store = Store(str(tmp_path / "store"))
    _ingest(landing, store, "one")
    assert _links(store) == LINKED
    _check_audit(_audit(store))  # A's transfer still makes its escalation timely


def test_a_next_leg_landing_at_a_later_ingest_re_reads_its_contact(tmp_path: Path) -> None:
    """A's transfer and B's callback land a day later: the next ingest reads again the objects
    of A's and B's kept rows (A's newest copy is its re-delivery, CTR_2) and the store ends as if
    everything had landed at once."""
    landing = LocalStorage(str(tmp_path / "landing"))
    _split_legs(landing, None)
    store = Store(str(tmp_path / "store"))
    _ingest(landing, store, "before")
    assert _links(store) == {fx.CONTACT_A: (None, "resolved"), fx.CONTACT_B: (None, "abandoned")}
    landing.write_bytes(CTR_NEXT_DAY, "".join(fx.json.dumps(r) for r in (fx.CTR_C, fx.CTR_D)).encode())
    report = _ingest(landing, store, "after")
    assert sorted(_counts(report)) == [CTR_1, CTR_2, CTR_NEXT_DAY]
    assert _links(store) == LINKED
    assert _ingest(landing, store, "settled").objects_read.is_empty()
    scratch = Store(str(tmp_path / "scratch"))
    _ingest(landing, scratch, "scratch")
    ours, theirs = (s.scan("calls").collect() for s in (store, scratch))
    assert ours.sort(ours.columns, nulls_last=True).equals(theirs.sort(theirs.columns, nulls_last=True))


def test_events_of_a_user_the_users_export_lists_later_are_read_again(tmp_path: Path) -> None:
    """User 4242's private note on 1001 is rejected until a later users page lists them (a
    users export polled once a day lands after a new agent's first events); then the events
    page is read again and the store ends as one built from scratch."""
    landing = LocalStorage(str(tmp_path / "landing"))
    fx.write_landing(landing)
    store = Store(str(tmp_path / "store"))
    _ingest(landing, store, "before")
    later = {"users": [{"id": 4242, "role": "agent", "tags": [], "updated_at": "2026-03-02T12:00:00Z"}]}
    landing.write_bytes("zendesk/users/2026/03/03/users-1.json", fx.json.dumps(later).encode())
    report = _ingest(landing, store, "after")
    events = "zendesk/ticket_events/2026/03/02/page-0001.json"
    assert _counts(report) == {events: (18, 17, 1, 0, 0)}  # the deleted ticket's change stays out
    note = store.canonical("ticket_events").filter(pl.col("event_id") == "7091").collect()
    assert note.select("actor_role", "actor_id", "public").rows() == [("agent", "4242", False)]
    assert _ingest(landing, store, "settled").objects_read.is_empty()
    scratch = Store(str(tmp_path / "scratch"))
    _ingest(landing, scratch, "scratch")
    ours, theirs = (s.scan("ticket_events").collect() for s in (store, scratch))
    assert ours.sort(ours.columns, nulls_last=True).equals(theirs.sort(theirs.columns, nulls_last=True))
