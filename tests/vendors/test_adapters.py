"""The vendor adapters on hand-written records: each contract value checked by hand against the
vendors' documented shapes (tests/vendors/vendor_fixtures.py, docs/vendors.md)."""

from __future__ import annotations

import gzip
import json
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters import connect, zendesk
from adapters.layout import CONNECT_CTR, VendorLanding, key_day
from adapters.records import json_stream
from adapters.rows import Rows
from configs.limits import ReadLimits
from configs.vendors import MappingError, VendorMapping, load_mapping
from storage import LocalStorage
from tests.vendors import vendor_fixtures as fx
from transforms.schemas.base import MALFORMED, SOURCE_ROW

MAPPING = VendorMapping.model_validate(tomllib.loads(fx.MAPPING_TOML))


def _directory() -> zendesk.Directory:
    directory = zendesk.Directory()
    directory.add_page(fx.USERS, MAPPING.zendesk)
    return directory


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows with only their non-null values (easier to read and compare)."""
    return [{k: v for k, v in row.items() if v is not None} for row in frame.iter_rows(named=True)]


# --- records ---------------------------------------------------------------------------------


def test_concatenated_and_line_delimited_records_and_gzip_read_alike() -> None:
    records = [{"ContactId": "a"}, {"ContactId": "b", "Attributes": {"x": "}{"}}]
    concatenated = "".join(json.dumps(r) for r in records).encode()
    lines = "".join(json.dumps(r) + "\n" for r in records).encode()
    expected = [(1, records[0]), (2, records[1])]
    assert list(json_stream(concatenated, ReadLimits())) == expected
    assert list(json_stream(lines, ReadLimits())) == expected
    assert list(json_stream(gzip.compress(concatenated), ReadLimits())) == expected


@given(
    st.lists(
        st.recursive(
            st.one_of(
                st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6)
            ),
            lambda inner: st.one_of(
                st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=6,
    ),
    st.sampled_from(["", "\n", "\r\n", " ", "\n\n"]),
)
def test_the_fast_reader_reads_what_the_careful_reader_reads(values: list[Any], gap: str) -> None:
    """orjson per record when the object splits into whole records; anything it cannot read
    (big integers, spaces between records on a line, `}{` in a string) falls back to the
    careful reader: the records and their numbers are the same either way."""
    from adapters.records import _careful_records

    text = gap.join(json.dumps(v) for v in values)
    assert list(json_stream(text.encode(), ReadLimits())) == list(_careful_records(text))


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1}\n\x0c\n{"b":2}',  # a form feed is not a separator the careful reader skips
        '{"a":1}\x1e{"b":2}',  # RFC 7464 record separators
        '{"a":1}\u2028{"b":2}',
        '{"a":123456789012345678901234567890}',  # orjson would read a float
        '{"a":1} {"b":2}',
    ],
    ids=["form feed", "record separator", "line separator", "big integer", "space between"],
)
def test_the_fast_reader_leaves_what_it_reads_otherwise_to_the_careful_reader(text: str) -> None:
    from adapters.records import _careful_records

    assert list(json_stream(text.encode(), ReadLimits())) == list(_careful_records(text))


def test_a_broken_record_is_one_unreadable_record_and_reading_goes_on() -> None:
    data = b'{"ContactId":"a"}{"ContactId":"b",,}{"ContactId":"c"}\n{"ContactId":'
    assert list(json_stream(data, ReadLimits())) == [
        (1, {"ContactId": "a"}),
        (2, None),
        (3, {"ContactId": "c"}),
        (4, None),
    ]


@given(
    st.lists(
        st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=8)), max_size=3),
        max_size=6,
    ),
    st.lists(st.sampled_from(["", "\n", " ", "\r\n", "\t"]), min_size=6, max_size=6),
)
def test_any_records_with_any_separators_come_back_in_order(
    records: list[dict[str, Any]], gaps: list[str]
) -> None:
    text = "".join(json.dumps(r) + gap for r, gap in zip(records, gaps, strict=False))
    assert [r for _, r in json_stream(text.encode(), ReadLimits())] == records


@pytest.mark.parametrize(
    ("key", "day"),
    [
        ("2026/03/02/09/ctr-stream-1-2026-03-02-09-15-00-0001", date(2026, 3, 2)),
        ("export_date=2026-03-02/page-1.json", date(2026, 3, 2)),
        ("year=2026/month=3/day=2/part.gz", date(2026, 3, 2)),
        ("fhbase/year=2026/month=03/day=02/x", date(2026, 3, 2)),
        ("page-1.json", None),
        ("2026/02/30/x", None),  # not a date
    ],
)
def test_the_export_day_is_the_first_date_in_the_key(key: str, day: date | None) -> None:
    assert key_day(key) == day


# --- mapping -----------------------------------------------------------------------------------


def test_the_example_mapping_file_loads() -> None:
    mapping = load_mapping(Path("configs/vendors/zendesk+connect.example.toml"))
    assert mapping.zendesk.category.custom_field_id == 360001
    assert mapping.connect.escalation_queues == ["Billing Supervisors"]


def test_a_wrong_mapping_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text('[zendesk]\nchannel_map = { "api" = "telephone" }\n[connect]\ntalk_time = 1\n')
    with pytest.raises(MappingError) as raised:
        load_mapping(path)
    message = str(raised.value)
    assert str(path) in message
    assert "zendesk.channel_map: Value error, not contract channels: telephone" in message
    assert "connect.talk_time: Extra inputs are not permitted" in message
    with pytest.raises(MappingError, match="vendor mapping file not found"):
        load_mapping(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[zendesk.category]\ntag_pattern = "reason_(.+"\n', "zendesk.category.tag_pattern"),
        ('[zendesk.escalation]\ntag_pattern = "esc[("\n', "zendesk.escalation.tag_pattern"),
        ('[zendesk]\ntier_tag_pattern = "tier_(("\n', "zendesk.tier_tag_pattern"),
        ('[zendesk.follow_up]\ntag_pattern = "fu_)"\n', "zendesk.follow_up.tag_pattern"),
    ],
)
def test_every_tag_pattern_that_does_not_compile_is_refused_at_load(
    tmp_path: Path, toml: str, key: str
) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(toml)
    with pytest.raises(MappingError, match=rf"{re.escape(key)}: Value error, not a regular expression"):
        load_mapping(path)


@pytest.mark.parametrize("toml", ["[zendesk]\ncsat_good = 5\n", "[zendesk]\ncsat_bad = 1\n"])
def test_one_csat_score_without_the_other_is_refused(tmp_path: Path, toml: str) -> None:
    """csat_good alone would read every rated ticket as good: 100 % and a mean of 5."""
    path = tmp_path / "mapping.toml"
    path.write_text(toml)
    with pytest.raises(MappingError, match="csat_good and csat_bad go together"):
        load_mapping(path)
    path.write_text("[zendesk]\ncsat_good = 5\ncsat_bad = 1\n")
    assert load_mapping(path).zendesk.csat_bad == 1


# --- Zendesk tickets ---------------------------------------------------------------------------


def test_ticket_snapshots_map_field_by_field() -> None:
    rows = _rows(zendesk.ticket_rows(fx.TICKETS_PAGE_1, MAPPING.zendesk, _directory()).frame())
    assert rows[0] == {
        SOURCE_ROW: 1,
        "ticket_id": "1001",
        "customer_id": "9001",
        "created_at": "2026-03-02T08:14:05Z",
        "updated_at": "2026-03-02T09:40:11Z",
        "status": "solved",
        "channel": "email",
        "category": "billing_refund",
        "priority": "high",
        "assignee_id": "501",
        "team_id": "77",
        "customer_tier": "gold",  # tag tier_gold of requester 9001, first group of tier_(.+)
        "csat_score": "5",  # legacy "good"
        "subject": "Refund not received",
    }
    # Zendesk's follow-up ticket is a new customer contact; its empty category gets the default.
    assert rows[1]["ticket_id"] == "1002"
    assert rows[1]["channel"] == "web"
    assert rows[1]["category"] == "uncategorised"
    assert "csat_score" not in rows[1]  # unoffered
    # The deleted ticket is quarantined, naming the vendor field.
    assert rows[2] == {
        SOURCE_ROW: 3,
        MALFORMED: "unmappable: tickets[2].status: a deleted ticket has no contract status",
    }


def test_hold_is_on_hold_and_a_ticket_without_category_or_default_is_unmappable() -> None:
    mapping = MAPPING.zendesk.model_copy(
        update={"category": MAPPING.zendesk.category.model_copy(update={"default": None})}
    )
    page = {"tickets": [{**fx.TICKET_1004, "status": "hold"}, fx.TICKET_1002]}
    rows = _rows(zendesk.ticket_rows(page, mapping, _directory()).frame())
    assert rows[0]["status"] == "on_hold"
    assert rows[0]["channel"] == "phone"  # via.channel voice
    assert rows[1][MALFORMED] == (
        "unmappable: tickets[1].custom_fields[id=360001]: no category (set zendesk.category.default to"
        " keep such tickets)"
    )


# --- Zendesk ticket events ---------------------------------------------------------------------


def test_child_events_become_contract_events() -> None:
    frame = zendesk.event_rows(fx.EVENTS_PAGE, MAPPING.zendesk, _directory()).frame()
    rows = _rows(frame)
    by_id = {r.get("event_id"): r for r in rows}
    assert [r.get("event_id") for r in rows[:7]] == [
        "7002",
        "7003",
        "7011",
        "7012",
        "7013",
        "7015",
        "7014",
    ]
    assert by_id["7003"] == {
        SOURCE_ROW: 2,
        "event_id": "7003",
        "ticket_id": "1001",
        "occurred_at": "2026-03-02T08:14:05Z",
        "event_type": "comment",
        "actor_role": "customer",
        "actor_id": "9001",
        "public": "true",
    }
    assert by_id["7012"]["new_status"] == "solved"
    assert by_id["7012"]["actor_role"] == "agent"
    # The concession takes its type from field 360004 of the same update, the default currency.
    assert {k: by_id["7013"][k] for k in ("concession_type", "concession_amount", "currency")} == {
        "concession_type": "refund",
        "concession_amount": "25.00",
        "currency": "EUR",
    }
    assert by_id["7031"]["actor_role"] == "customer"
    assert by_id["7056"]["new_status"] == "on_hold"  # Zendesk hold
    # Group 78 is an escalation of level 1; the supervisor (by user id) acts.
    assert by_id["7061"] == {
        SOURCE_ROW: by_id["7061"][SOURCE_ROW],
        "event_id": "7061",
        "ticket_id": "1004",
        "occurred_at": "2026-03-02T12:30:00Z",
        "event_type": "escalation",
        "actor_role": "supervisor",
        "actor_id": "502",
        "team_id": "78",
        "escalation_level": "1",
    }
    assert by_id["7062"]["team_id"] == "78"  # the group set in the same update
    # The priority change (7017) is not a contract event: no row at all.
    assert not any(str(r.get("event_id", "")).startswith("7017") for r in rows)
    marks = [r[MALFORMED] for r in rows if MALFORMED in r]
    assert marks == [
        "unmappable: ticket_events[9].child_events[0].status: a deleted ticket has no contract status",
        "unmappable: ticket_events[10].child_events[0].author_id: the user is not in the users export"
        " (zendesk.users_prefix)",
    ]
    assert frame.height == 18 and frame[SOURCE_ROW].to_list() == list(range(1, 19))


def test_a_system_update_has_the_system_role_and_no_actor() -> None:
    page = {"ticket_events": [fx._audit(1, 5, "2026-03-02T10:00:00Z", -1, [fx._change(2, status="closed")])]}
    [row] = _rows(zendesk.event_rows(page, MAPPING.zendesk, _directory()).frame())
    assert row["actor_role"] == "system" and "actor_id" not in row and row["new_status"] == "closed"


# --- Connect -----------------------------------------------------------------------------------


def test_contact_lens_counts_the_agents_interruptions_and_the_customers_quarter_sentiment() -> None:
    summary = connect.lens_summary(fx.LENS_A, fx.LENS_TIME)
    assert summary.agent_interruptions == 3  # not TotalCount (4): the customer interrupted once
    assert (summary.sentiment_start, summary.sentiment_end) == (-3.1, 0.0)
    assert summary.talk_seconds == 412.0
    assert summary.categories == {"ManagerEscalation", "Refund"}
    none = connect.lens_summary(fx.LENS_C, "2026-03-02T11:46:30Z")
    assert none.agent_interruptions == 0 and (none.sentiment_start, none.sentiment_end) == (1.0, 2.5)


def _calls(
    records: list[dict[str, Any]], lens: dict[str, connect.LensSummary] | None = None
) -> list[dict[str, Any]]:
    numbered = list(enumerate(records, start=1))
    return _rows(connect.call_rows(numbered, MAPPING.connect, lens or {}).frame())


def test_contact_records_map_field_by_field() -> None:
    lens = {fx.CONTACT_A: connect.lens_summary(fx.LENS_A, fx.LENS_TIME)}
    a, b, c, d, m = _calls([fx.CTR_A, fx.CTR_B, fx.CTR_C, fx.CTR_D, fx.CTR_M], lens)
    assert a == {
        SOURCE_ROW: 1,
        "call_id": fx.CONTACT_A,
        "customer_id": "9001",
        "updated_at": "2026-03-02T09:14:02Z",  # LastUpdateTimestamp, later than the analysis
        "direction": "inbound",
        "initiated_at": "2026-03-02T09:00:00Z",
        "answered_at": "2026-03-02T09:02:40Z",  # the agent connected: queue wait 160 s, not Queue.Duration 90
        "ended_at": "2026-03-02T09:12:30Z",
        "agent_id": "501",
        "team_id": "77",
        "queue": "Billing",
        "category": "billing_refund",
        "hold_seconds": "120",
        "hold_count": "2",
        "talk_seconds": "470",
        "agent_interruptions": "3",
        "sentiment_start": "-3.1",
        "sentiment_end": "0.0",
        "supervisor_requested": "true",
        "escalated_to": "Billing Supervisors",  # its next leg went to an escalation queue
    }
    # Asked for a queued callback before any agent answered: no answer, callback promised.
    assert b["outcome"] == "callback_promised" and "answered_at" not in b and "agent_id" not in b
    # The callback leg: answered when the customer picked up; disposition "fixed" -> resolved.
    assert (c["direction"], c["answered_at"], c["previous_call_id"], c["outcome"]) == (
        "callback",
        "2026-03-02T11:39:10Z",
        fx.CONTACT_B,
        "resolved",
    )
    assert "supervisor_requested" not in c  # no analysis file: unknown, not false
    assert (d["direction"], d["agent_id"], d["team_id"], d["previous_call_id"]) == (
        "transfer",
        "502",
        "78",
        fx.CONTACT_A,
    )
    assert m == {
        SOURCE_ROW: 5,
        MALFORMED: "unmappable: record 5.InitiationMethod: MONITOR: a supervisor monitoring a call is not a"
        " call leg",
    }


def test_an_unanswered_inbound_call_is_abandoned_and_a_missing_customer_is_unmappable() -> None:
    lone = {**fx.CTR_B, "NextContactId": None}
    no_customer = {**fx.CTR_C, "Attributes": {}}
    chat = {**fx.CTR_A, "Channel": "CHAT"}
    first, second, third = _calls([lone, no_customer, chat])
    assert first["outcome"] == "abandoned"
    assert second[MALFORMED] == (
        "unmappable: record 2.Attributes.zendesk_user_id: no customer id (connect.customer_id_attribute)"
    )
    assert third[MALFORMED] == "unmappable: record 3.Channel: CHAT is not a voice call"


def test_a_later_analysis_makes_the_enriched_row_the_newer_version() -> None:
    later = connect.lens_summary(fx.LENS_A, "2026-03-02T09:30:00Z")
    [row] = _calls([fx.CTR_A], {fx.CONTACT_A: later})
    assert row["updated_at"] == "2026-03-02T09:30:00Z"


def test_contact_lens_talk_time_and_skipped_categories() -> None:
    mapping = MAPPING.connect.model_copy(update={"talk_time_basis": "contact_lens"})
    skipped = {
        **fx.LENS_C,
        "JobDetails": {"SkippedAnalysis": [{"SkippedEntities": [{"CategoryName": "ManagerEscalation"}]}]},
    }
    lens = {fx.CONTACT_C: connect.lens_summary(skipped, "2026-03-02T11:46:30Z")}
    [row] = _rows(connect.call_rows([(1, fx.CTR_C)], mapping, lens).frame())
    assert row["talk_seconds"] == "300.0"  # speech only, from TalkTime
    assert "supervisor_requested" not in row  # the rule was skipped: unknown
    lens = {fx.CONTACT_C: connect.lens_summary(fx.LENS_C, "2026-03-02T11:46:30Z")}
    [row] = _rows(connect.call_rows([(1, fx.CTR_C)], mapping, lens).frame())
    assert row["supervisor_requested"] == "false"  # analysed, the rule did not match


def test_a_child_changing_several_fields_gives_each_row_its_own_id() -> None:
    create = fx._change(9100, "Create", status="new", assignee_id=501, group_id=78)
    page = {"ticket_events": [fx._audit(9099, 1004, "2026-03-02T10:30:00Z", 502, [create])]}
    rows = _rows(zendesk.event_rows(page, MAPPING.zendesk, _directory()).frame())
    assert [(r["event_id"], r["event_type"]) for r in rows] == [
        ("9100:status_change", "status_change"),
        ("9100:assignment", "assignment"),
        ("9100:escalation", "escalation"),
    ]


def test_a_ticket_audits_page_maps_like_the_incremental_event_export() -> None:
    """The Ticket Audits API (`field_name`/`value` events, the audit's `author_id`) gives the
    same rows as the same update in the incremental event export."""
    audits = {
        "audits": [
            {
                "id": 7010,
                "ticket_id": 1001,
                "created_at": "2026-03-02T09:40:11Z",
                "author_id": 501,
                "events": [
                    {
                        "id": 7011,
                        "type": "Change",
                        "field_name": "assignee_id",
                        "value": "501",
                        "previous_value": None,
                    },
                    {
                        "id": 7012,
                        "type": "Change",
                        "field_name": "status",
                        "value": "solved",
                        "previous_value": "new",
                    },
                    {
                        "id": 7013,
                        "type": "Change",
                        "field_name": "360003",
                        "value": "25.00",
                        "previous_value": None,
                    },
                    {
                        "id": 7016,
                        "type": "Change",
                        "field_name": "360004",
                        "value": "refund",
                        "previous_value": None,
                    },
                    {
                        "id": 7015,
                        "type": "Change",
                        "field_name": "tags",
                        "value": ["billing", "followed_up"],
                        "previous_value": ["billing"],
                    },
                    {"id": 7014, "type": "Comment", "body": "text", "public": True, "author_id": 501},
                ],
            }
        ]
    }
    incremental = {"ticket_events": [fx.EVENTS_PAGE["ticket_events"][1]]}
    keep = [
        "event_id",
        "ticket_id",
        "occurred_at",
        "event_type",
        "actor_role",
        "actor_id",
        "public",
        "new_status",
    ]
    keep += ["assignee_id", "concession_type", "concession_amount", "currency"]
    from_audits = zendesk.event_rows(audits, MAPPING.zendesk, _directory()).frame().select(keep)
    from_export = zendesk.event_rows(incremental, MAPPING.zendesk, _directory()).frame().select(keep)
    assert from_audits.height == 5  # 7011, 7012, 7013 (with 7016 its type), 7015, 7014
    assert from_audits.sort("event_id").equals(from_export.sort("event_id"))


def test_an_inbound_contact_that_never_reached_a_queue_is_not_a_call_leg() -> None:
    ivr_only = {**fx.CTR_B, "Queue": None, "NextContactId": None}
    [row] = _calls([ivr_only])
    assert row[MALFORMED] == (
        "unmappable: record 1.Queue: an inbound contact that never reached a queue (IVR only) is not a"
        " call leg"
    )


def test_an_analysis_without_interruptions_leaves_them_unknown() -> None:
    analysis = {**fx.LENS_C, "ConversationCharacteristics": {"TalkTime": {"TotalTimeMillis": 1000}}}
    assert connect.lens_summary(analysis, fx.LENS_TIME).agent_interruptions is None


def test_the_disposition_attribute_wins_over_the_derived_outcome() -> None:
    unanswered = {
        **fx.CTR_B,
        "NextContactId": None,
        "Attributes": {"zendesk_user_id": "9001", "disposition": "fixed"},
    }
    [row] = _calls([unanswered])
    assert row["outcome"] == "resolved"


def test_a_mapping_withholds_the_metrics_it_cannot_support() -> None:
    assert MAPPING.withheld() == {"satisfaction_confirmed": "connect.satisfaction_attribute is unset"}
    bare = VendorMapping()  # every default: nothing mapped beyond the ids and the category
    gaps = bare.withheld()
    assert sorted(gaps) == [
        "concession_flags",
        "concessions",
        "csat_good",
        "csat_score",
        "escalation",
        "follow_up",
        "hours_to_follow_up",
        "late_escalation",
        "missed_escalation",
        "policy_violations",
        "satisfaction_confirmed",
    ]
    assert (
        gaps["follow_up"] == "zendesk.follow_up is not mapped, so agent follow-ups on tickets cannot be seen"
    )
    calls_only = VendorMapping.model_validate({"zendesk": {"escalation": {"group_levels": {"78": 1}}}})
    assert calls_only.withheld()["escalation"].startswith("connect.escalation_queues and")


def test_an_outbound_call_the_customer_never_answered_is_unanswered() -> None:
    dialled = {**fx.CTR_C, "InitiationMethod": "OUTBOUND", "ConnectedToSystemTimestamp": None}
    [row] = _calls([dialled])
    assert "answered_at" not in row and row["agent_id"] == "501"


def test_the_newer_of_record_and_analysis_is_compared_as_instants() -> None:
    # 09:14:02.5+01:00 is 08:14:02.5Z: earlier than the analysis at 09:13:10Z, as text it sorts later.
    record = {**fx.CTR_A, "LastUpdateTimestamp": "2026-03-02T09:14:02.500+01:00"}
    [row] = _calls([record], {fx.CONTACT_A: connect.lens_summary(fx.LENS_A, fx.LENS_TIME)})
    assert row["updated_at"] == fx.LENS_TIME


def test_a_status_zendesk_does_not_write_is_unmappable() -> None:
    page = {"tickets": [{**fx.TICKET_1004, "status": "on_hold"}]}
    [row] = _rows(zendesk.ticket_rows(page, MAPPING.zendesk, _directory()).frame())
    assert row[MALFORMED] == (
        "unmappable: tickets[0].status: not a Zendesk status (new, open, pending, hold, solved, closed)"
    )


def test_hierarchy_groups_map_to_team_ids() -> None:
    mapping = MAPPING.connect.model_copy(update={"queue_teams": {}, "hierarchy_teams": {"Billing T1": "77"}})
    [row] = _rows(connect.call_rows([(1, fx.CTR_C)], mapping, {}).frame())
    assert row["team_id"] == "77"


# --- shapes the vendors document that the sample writer does not produce -----------------------


@pytest.mark.parametrize(
    ("via", "channel"),
    [
        (4, "email"),  # a via id (Zendesk writes `channel` as a type or its integer id)
        ("4", "email"),
        (34, "phone"),
        (44, "phone"),  # Talk Partner Edition voicemail
        ("helpcenter", "web"),  # the via type's spelling (not help_center)
        ("voicemail", "phone"),
        ("closed_ticket", "email"),  # a follow-up of a closed ticket comes in by email
        ("facebook_message", "social"),
        ("text_message", "social"),
        (5, "other"),  # web_service: the API
        (999, "other"),
        (None, "other"),
    ],
)
def test_a_via_channel_is_read_as_a_via_type_or_a_via_id(via: Any, channel: str) -> None:
    page = {"tickets": [{**fx.TICKET_1001, "via": {"channel": via, "source": {}}}]}
    [row] = _rows(zendesk.ticket_rows(page, MAPPING.zendesk, _directory()).frame())
    assert row["channel"] == channel


def test_the_channel_map_may_name_a_via_id() -> None:
    mapping = MAPPING.zendesk.model_copy(update={"channel_map": {"48": "web", "api": "web"}})
    assert [mapping.channel(v) for v in (48, "48", "api", 5)] == ["web", "web", "web", "other"]


def test_a_voice_comment_is_a_comment_of_its_author() -> None:
    voice = {**fx._comment(8801, 501, False, "2026-03-02T10:05:00Z"), "type": "VoiceComment"}
    voice["event_type"] = "VoiceComment"
    page = {"ticket_events": [fx._audit(8800, 1001, "2026-03-02T10:05:00Z", 501, [voice])]}
    [row] = _rows(zendesk.event_rows(page, MAPPING.zendesk, _directory()).frame())
    assert {k: row[k] for k in ("event_id", "event_type", "actor_role", "actor_id", "public")} == {
        "event_id": "8801",
        "event_type": "comment",
        "actor_role": "agent",
        "actor_id": "501",
        "public": "false",
    }


def test_removing_a_tag_does_not_add_the_tags_that_stay() -> None:
    """The incremental event export may write `tags` (all of them now) with `added_tags` and
    `removed_tags`: a change that only removed a tag adds nothing, even though `followed_up`
    is still among the ticket's tags."""
    removed = fx._change(8811, tags=["followed_up", "vip"], added_tags=[], removed_tags=["outage"])
    added = fx._change(8812, tags=["followed_up", "asked_for_manager"], added_tags=["asked_for_manager"])
    page = {
        "ticket_events": [
            fx._audit(8810, 1001, "2026-03-02T10:10:00Z", 501, [removed]),
            fx._audit(8813, 1001, "2026-03-02T10:11:00Z", 501, [added]),
        ]
    }
    rows = _rows(zendesk.event_rows(page, MAPPING.zendesk, _directory()).frame())
    assert [(r["event_id"], r["event_type"]) for r in rows] == [("8812", "escalation_request")]


def test_an_older_analysis_keyed_by_participant_ids_reads_the_same() -> None:
    """AWS's 1.0.0 example keys per-participant figures by ParticipantId (an id), naming each
    participant's role in `Participants`; the 1.1.0 files use the role itself as the id."""
    agent, customer = "55555555-aaaa", "33333333-cccc"
    characteristics = fx.LENS_A["ConversationCharacteristics"]
    quarters = characteristics["Sentiment"]["SentimentByPeriod"]["QUARTER"]
    interrupters = characteristics["Interruptions"]["InterruptionsByInterrupter"]
    older = {
        **fx.LENS_A,
        "Version": "1.0.0",
        "Participants": [
            {"ParticipantId": customer, "ParticipantRole": "CUSTOMER"},
            {"ParticipantId": agent, "ParticipantRole": "AGENT"},
        ],
        "ConversationCharacteristics": {
            **characteristics,
            "Sentiment": {
                "SentimentByPeriod": {"QUARTER": {agent: quarters["AGENT"], customer: quarters["CUSTOMER"]}}
            },
            "Interruptions": {
                **characteristics["Interruptions"],
                "InterruptionsByInterrupter": {
                    agent: interrupters["AGENT"],
                    customer: interrupters["CUSTOMER"],
                },
            },
        },
    }
    assert connect.lens_summary(older, fx.LENS_TIME) == connect.lens_summary(fx.LENS_A, fx.LENS_TIME)
    assert connect.lens_summary(older, fx.LENS_TIME).agent_interruptions == 3


def test_the_older_channel_spelling_voice_is_a_voice_call() -> None:
    [row] = _calls([{**fx.CTR_A, "Channel": "Voice"}])
    assert row["call_id"] == fx.CONTACT_A and MALFORMED not in row
    [chat] = _calls([{**fx.CTR_A, "Channel": "CHAT"}])
    assert chat[MALFORMED] == "unmappable: record 1.Channel: CHAT is not a voice call"


def test_a_malformed_participants_list_falls_back_to_the_role_keys() -> None:
    for participants in ([{"ParticipantId": ["x"], "ParticipantRole": "AGENT"}], "AGENT", [7], None):
        odd = {**fx.LENS_A, "Participants": participants}
        assert connect.lens_summary(odd, fx.LENS_TIME).agent_interruptions == 3


def test_a_status_that_is_not_text_is_unmappable_not_an_error() -> None:
    page = {"tickets": [{**fx.TICKET_1001, "status": ["solved"]}]}
    [row] = _rows(zendesk.ticket_rows(page, MAPPING.zendesk, _directory()).frame())
    assert (
        row[MALFORMED] == "unmappable: tickets[0].status: is an array, not a string as the vendor writes it"
    )
    events = {
        "ticket_events": [fx._audit(1, 5, "2026-03-02T10:00:00Z", 501, [fx._change(2, status={"x": 1})])]
    }
    [event] = _rows(zendesk.event_rows(events, MAPPING.zendesk, _directory()).frame())
    assert event[MALFORMED].startswith(
        "unmappable: ticket_events[0].child_events[0].status: not a Zendesk status"
    )


@pytest.mark.parametrize(
    "via",
    [
        {"channel": "web", "source": {"from": {"ticket_id": 1001}, "to": {}, "rel": "follow_up"}},
        {"channel": 27, "source": {}},
        "Closed ticket",
    ],
    ids=["source.rel", "via id", "text"],
)
def test_a_follow_up_tickets_inherited_tags_are_not_events(via: object) -> None:
    """Zendesk creates a follow-up ticket (after a closed one) with its parent's tags: the
    parent's `asked_for_manager` is not a request on the new ticket, and nobody added the
    follow-up tag to it. The same Create on an ordinary ticket gives both rows."""
    create = fx._change(8821, "Create", status="new", tags=["asked_for_manager", "followed_up"])
    follow_up = {**fx._audit(8820, 1005, "2026-03-04T09:00:00Z", 9001, [create]), "via": via}
    ordinary = fx._audit(8830, 1006, "2026-03-04T09:00:00Z", 9001, [{**create, "id": 8831}])
    page = {"ticket_events": [follow_up, ordinary]}
    rows = _rows(zendesk.event_rows(page, MAPPING.zendesk, _directory()).frame())
    assert [(r["ticket_id"], r["event_type"]) for r in rows] == [
        ("1005", "status_change"),
        ("1006", "status_change"),
        ("1006", "escalation_request"),
        ("1006", "follow_up"),
    ]


# --- records whose fields have other JSON types than the vendor documents ---------------------


def _landing(tmp_path: Path) -> VendorLanding:
    return VendorLanding(LocalStorage(str(tmp_path / "landing")), MAPPING)


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        ("Attributes", "zendesk_user_id=9001", ".Attributes: is a string, not an object"),
        ("Agent", ["ana"], ".Agent: is an array, not an object"),
        ("Queue", 7, ".Queue: is a number, not an object"),
        ("NextContactId", [fx.CONTACT_D], ".NextContactId: is an array, not a string"),
        ("ContactId", {"id": "x"}, ".ContactId: is an object, not a string"),
        ("InitiationMethod", ["INBOUND"], ".InitiationMethod: is an array, not a string"),
    ],
)
def test_a_contact_record_with_a_field_of_another_type_is_quarantined_alone(
    tmp_path: Path, field: str, value: object, detail: str
) -> None:
    """Connect writes these fields as maps and strings; a Firehose transform or a re-export may
    not. The record is one unmappable row naming the field; the records beside it map."""
    odd = {**fx.CTR_A, field: value}
    data = "".join(json.dumps(r) for r in (odd, fx.CTR_B, fx.CTR_D)).encode()
    rows = _rows(_landing(tmp_path).rows(CONNECT_CTR, data))
    assert rows[0] == {SOURCE_ROW: 1, MALFORMED: f"unmappable: record 1{detail} as the vendor writes it"}
    assert [r["call_id"] for r in rows[1:]] == [fx.CONTACT_B, fx.CONTACT_D]


@pytest.mark.parametrize(
    ("ticket", "detail"),
    [
        ({"via": "web"}, "tickets[0].via: is a string, not an object"),
        ({"tags": 3}, "tickets[0].tags: is a number, not an array"),
        ({"requester_id": [9001]}, "tickets[0].requester_id: is an array, not a number or a string"),
        ({"custom_fields": {"id": 1}}, "tickets[0].custom_fields: is an object, not an array"),
    ],
)
def test_a_ticket_with_a_field_of_another_type_is_quarantined_alone(
    ticket: dict[str, Any], detail: str
) -> None:
    page = {"tickets": [{**fx.TICKET_1001, **ticket}, fx.TICKET_1001]}
    rows = _rows(zendesk.ticket_rows(page, MAPPING.zendesk, _directory()).frame())
    assert rows[0] == {SOURCE_ROW: 1, MALFORMED: f"unmappable: {detail} as the vendor writes it"}
    assert rows[1]["ticket_id"] == "1001"


@pytest.mark.parametrize(
    ("update", "detail"),
    [
        ({"child_events": 4}, "ticket_events[0].child_events: is a number, not an array"),
        ({"via": 5}, "ticket_events[0].via: is a number, not an object or a string"),
        (
            {"child_events": [fx._change(2, status="open"), {"id": 3, "custom_ticket_fields": [1]}]},
            "ticket_events[0].child_events[1].custom_ticket_fields: is an array, not an object",
        ),
    ],
)
def test_a_ticket_update_with_a_field_of_another_type_is_one_unmappable_row(
    update: dict[str, Any], detail: str
) -> None:
    good = fx._audit(1, 5, "2026-03-02T10:00:00Z", 501, [fx._change(2, status="open")])
    page = {"ticket_events": [{**good, **update}, {**good, "id": 9}]}
    rows = _rows(zendesk.event_rows(page, MAPPING.zendesk, _directory()).frame())
    assert rows[0] == {SOURCE_ROW: 1, MALFORMED: f"unmappable: {detail} as the vendor writes it"}
    assert [(r["event_type"], r["new_status"]) for r in rows[1:]] == [("status_change", "open")]


def test_ids_written_as_doubles_by_an_elt_tool_still_map() -> None:
    """A nullable integer column exported through a dataframe comes out as doubles (9001.0)."""
    page = {"tickets": [{**fx.TICKET_1001, "requester_id": 9001.0, "assignee_id": 501.0}]}
    [row] = _rows(zendesk.ticket_rows(page, MAPPING.zendesk, _directory()).frame())
    assert MALFORMED not in row and row["ticket_id"] == "1001"


def test_a_page_whose_records_are_not_an_array_is_one_unmappable_row() -> None:
    rows = _rows(zendesk.ticket_rows({"tickets": {"id": 1}}, MAPPING.zendesk, _directory()).frame())
    assert rows == [{SOURCE_ROW: 1, MALFORMED: "unmappable: tickets: is not an array of records"}]


def test_a_record_that_fails_deeper_down_takes_back_its_rows_and_is_one_unmappable_row() -> None:
    out = Rows("ticket_events")
    out.add({"event_id": "e0"})
    with out.record("ticket_events[1]"):
        out.add({"event_id": "e1"})
        {"x": 1}["missing"]  # a field of another type deep in the record, as mapping meets it
    with out.record("ticket_events[2]"):
        out.add({"event_id": "e2"})
    assert _rows(out.frame()) == [
        {SOURCE_ROW: 1, "event_id": "e0"},
        {
            SOURCE_ROW: 2,
            MALFORMED: "unmappable: ticket_events[1]: a field inside the record is not of the JSON"
            " type the vendor documents",
        },
        {SOURCE_ROW: 3, "event_id": "e2"},
    ]


def test_users_whose_tags_are_not_an_array_still_have_their_role() -> None:
    directory = zendesk.Directory()
    directory.add_page({"users": [{**fx.USERS["users"][0], "tags": 12}]}, MAPPING.zendesk)
    user = directory.users[fx.USERS["users"][0]["id"]]
    assert user.tags == () and user.role == zendesk._role(fx.USERS["users"][0], MAPPING.zendesk)


def test_an_unreadable_analysis_leaves_its_call_without_contact_lens_values_and_loses_nothing(
    tmp_path: Path,
) -> None:
    """A cut-short analysis file is not a reason to lose the contact records beside it: its
    call has no analysis values (and is read again when a readable one lands)."""
    landing = _landing(tmp_path)
    folder = "connect/Analysis/Voice/2026/03/02"
    landing.storage.write_bytes(
        f"{folder}/{fx.CONTACT_A}_analysis_{fx.LENS_TIME}.json", b'{"Version": "1.1", "Con'
    )
    landing.storage.write_bytes(
        f"{folder}/{fx.CONTACT_C}_analysis_2026-03-02T11:46:30Z.json", json.dumps(fx.LENS_C).encode()
    )
    data = "".join(json.dumps(r) for r in (fx.CTR_A, fx.CTR_C)).encode()
    rows = {r["call_id"]: r for r in landing.rows(CONNECT_CTR, data).iter_rows(named=True)}
    assert rows[fx.CONTACT_A]["agent_interruptions"] is None
    assert rows[fx.CONTACT_A]["updated_at"] == fx.CTR_A["LastUpdateTimestamp"]
    assert rows[fx.CONTACT_C]["agent_interruptions"] == "0"  # LENS_C: none at all recorded


def test_of_two_analyses_the_later_instant_is_read_whatever_the_fraction_of_a_second(tmp_path: Path) -> None:
    landing = _landing(tmp_path)
    folder = "connect/Analysis/Voice/2026/03/02"
    for stamp in ("2026-03-02T14:01:00.500Z", "2026-03-02T14:01:00Z", "2026-03-02T14:00:59.999Z"):
        landing.storage.write_bytes(f"{folder}/{fx.CONTACT_A}_analysis_{stamp}.json", b"{}")
    assert landing.recent_lens(date(2026, 3, 2), 1) == {fx.CONTACT_A: "2026-03-02T14:01:00.500Z"}


@pytest.mark.parametrize(
    ("page", "keys"),
    [
        ({"error": "APIRateLimitExceeded", "description": "Rate limit"}, "description, error"),
        ({"users": [{"id": 1}], "next_page": None}, "next_page, users"),
        ({"tickets": None, "end_of_stream": True}, "end_of_stream, tickets"),
        ({}, "none"),
    ],
)
def test_json_that_is_not_an_export_page_is_one_unmappable_row_not_an_empty_page(
    page: dict[str, Any], keys: str
) -> None:
    """A 429 body saved by a fetcher, another export's page under the prefix, a null array: the
    object is accounted for (one quarantined row), never read as a page of no records."""
    rows = _rows(zendesk.ticket_rows(page, MAPPING.zendesk, _directory()).frame())
    why = f"the page has no tickets array: not a Zendesk export page (its keys: {keys})"
    assert rows == [{SOURCE_ROW: 1, MALFORMED: f"unmappable: tickets: {why}"}]
    events = _rows(zendesk.event_rows({"count": 0}, MAPPING.zendesk, _directory()).frame())
    assert events == [
        {
            SOURCE_ROW: 1,
            MALFORMED: "unmappable: ticket_events: the page has no ticket_events array: not a Zendesk "
            "export page (its keys: count)",
        }
    ]
    assert (
        zendesk.ticket_rows({"tickets": [], "end_of_stream": True}, MAPPING.zendesk, _directory()).rows == []
    )


def test_a_multi_select_category_field_is_unmappable_naming_the_field() -> None:
    multi = {**fx.TICKET_1001, "custom_fields": [{"id": 360001, "value": ["billing", "refunds"]}]}
    page = {"tickets": [multi, {**fx.TICKET_1001, "custom_fields": [{"id": 360001, "value": 42}]}]}
    first, numeric = _rows(zendesk.ticket_rows(page, MAPPING.zendesk, _directory()).frame())
    assert first == {
        SOURCE_ROW: 1,
        MALFORMED: "unmappable: tickets[0].custom_fields[id=360001]: holds several values (a multi-select "
        "field): a ticket has one category",
    }
    assert numeric["category"] == "42"  # a number or a checkbox is one value, read as text


def test_any_vendor_value_that_is_not_one_value_makes_its_record_unmappable() -> None:
    """A list or an object reaching a contract column (here a concession's type field holding a
    multi-select) is never written as its Python text: the record is one unmappable row."""
    out = Rows("ticket_events")
    with out.record("ticket_events[4]"):
        out.add({"event_id": "e1", "concession_type": ["credit", "refund"]})
    assert _rows(out.frame()) == [
        {
            SOURCE_ROW: 1,
            MALFORMED: "unmappable: ticket_events[4]: the vendor field mapped onto concession_type holds "
            "an array, not one value",
        }
    ]


@pytest.mark.parametrize(
    ("disposition", "outcome"),
    [
        ("fixed", "resolved"),
        ("FIXED", "resolved"),
        (" Fixed ", "resolved"),
        ("Unresolved", "unresolved"),
        ("  ", None),
    ],
)
def test_a_disposition_maps_ignoring_case_and_a_contract_outcome_is_itself(
    disposition: str, outcome: str | None
) -> None:
    """Spaces only are no disposition: an answered call then has no outcome."""
    record = {**fx.CTR_A, "Attributes": {**fx.CTR_A["Attributes"], "disposition": disposition}}
    [row] = _calls([record])
    assert row.get("outcome") == outcome and MALFORMED not in row


def test_a_disposition_neither_mapped_nor_an_outcome_is_unmappable_naming_the_attribute() -> None:
    odd = {**fx.CTR_A, "Attributes": {**fx.CTR_A["Attributes"], "disposition": "voicemail_left"}}
    first, second = _calls([odd, fx.CTR_D])
    assert first == {
        SOURCE_ROW: 1,
        MALFORMED: "unmappable: record 1.Attributes.disposition: not a call outcome (resolved, unresolved, "
        "escalated, callback_promised, abandoned) and not a key of connect.outcome_map",
    }
    assert "voicemail" not in first[MALFORMED].replace("disposition", "")
    assert second["call_id"] == fx.CONTACT_D


def test_a_transfer_to_an_external_number_and_a_record_with_no_contact_id_are_not_call_legs() -> None:
    external = {
        **fx.CTR_B,
        "InitiationMethod": "TRANSFER",
        "Queue": None,
        "Agent": None,
        "NextContactId": None,
    }
    firehose_error = {"attemptsMade": 4, "errorCode": "Lambda.FunctionError", "rawData": "e30="}
    assert _calls([external, firehose_error]) == [
        {
            SOURCE_ROW: 1,
            MALFORMED: "unmappable: record 1.Queue: a transfer to an external number (no queue, no agent) "
            "is not a call leg",
        },
        {SOURCE_ROW: 2, MALFORMED: "unmappable: record 2.ContactId: not a contact record (no ContactId)"},
    ]


def test_a_null_child_event_makes_its_update_one_unmappable_row() -> None:
    """docs/vendors.md: a ticket update is one record; a child event of another JSON type (null
    here) quarantines the update's rows, not only the child."""
    update = fx._audit(1, 5, "2026-03-02T10:00:00Z", 501, [fx._change(2, status="open"), None])
    rows = _rows(zendesk.event_rows({"ticket_events": [update]}, MAPPING.zendesk, _directory()).frame())
    assert rows == [
        {
            SOURCE_ROW: 1,
            MALFORMED: "unmappable: ticket_events[0].child_events[1]: is null, not an object as the vendor "
            "writes it",
        }
    ]


def test_a_ticket_audits_page_names_its_events_array_in_reasons() -> None:
    audit = {
        "id": 7010,
        "ticket_id": 1001,
        "created_at": "2026-03-02T09:40:11Z",
        "author_id": 501,
        "events": [{"id": 7011, "type": "Change", "field_name": "status", "value": "deleted"}],
    }
    bad_events = {**audit, "id": 7020, "events": "none"}
    rows = _rows(zendesk.event_rows({"audits": [audit, bad_events]}, MAPPING.zendesk, _directory()).frame())
    assert [r[MALFORMED] for r in rows] == [
        "unmappable: audits[0].events[0].status: a deleted ticket has no contract status",
        "unmappable: audits[1].events: is a string, not an array as the vendor writes it",
    ]


def test_a_concession_amount_without_its_type_in_the_same_update_names_the_type_field() -> None:
    """The type set in an earlier update than the amount: the change is quarantined naming the
    Zendesk field and the fix (a contract-column reason said nothing a Zendesk admin can act on)."""
    rule = MAPPING.zendesk.concession
    assert rule is not None and rule.type_field_id is not None and rule.default_type is None
    amount_only = fx._change(2, custom_ticket_fields={str(rule.amount_field_id): "25.50"})
    update = fx._audit(1, 5, "2026-03-02T10:00:00Z", 501, [amount_only])
    rows = _rows(zendesk.event_rows({"ticket_events": [update]}, MAPPING.zendesk, _directory()).frame())
    place = f"ticket_events[0].child_events[0].custom_ticket_fields.{rule.type_field_id}"
    why = (
        "the concession's type is not set in the update that sets its amount (set both in one update, "
        "e.g. with a macro, or set zendesk.concession.default_type)"
    )
    assert rows == [{SOURCE_ROW: 1, MALFORMED: f"unmappable: {place}: {why}"}]
