"""A small Zendesk + Amazon Connect landing, written by hand from the vendors' documented shapes
(docs/vendors.md): a re-polled ticket page, a deleted ticket, a Zendesk follow-up ticket, a
reopened ticket, a transfer to a supervisor queue, a queued callback, a re-delivered contact
record, a redacted Contact Lens twin, a MONITOR record, and contact records both concatenated
with no delimiter and one per line (gzipped).

The day is 2026-03-02 (UTC). People: customers 9001 and 9002; agent 501 (Ana, Connect username
ana@acme.example); supervisor 502 (Sam, sam@acme.example).
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from storage import Storage

MAPPING_TOML = """
[zendesk]
supervisor_user_ids = [502]
csat_good = 5
csat_bad = 1
tier_tag_pattern = "tier_(.+)"

[zendesk.category]
custom_field_id = 360001
default = "uncategorised"

[zendesk.escalation]
group_levels = { "78" = 1 }

[zendesk.escalation_request]
tag_pattern = "asked_for_manager"

[zendesk.follow_up]
tag_pattern = "followed_up"

[zendesk.concession]
amount_field_id = 360003
type_field_id = 360004
default_currency = "EUR"

[connect]
customer_id_attribute = "zendesk_user_id"
category_attribute = "call_reason"
outcome_attribute = "disposition"
outcome_map = { "fixed" = "resolved" }
supervisor_request_categories = ["ManagerEscalation"]
escalation_queues = ["Billing Supervisors"]
agent_ids = { "ana@acme.example" = "501", "sam@acme.example" = "502" }
queue_teams = { "Billing" = "77", "Billing Supervisors" = "78", "CallbackQueue" = "77" }
"""

USERS = {
    "users": [
        {"id": 9001, "role": "end-user", "tags": ["tier_gold"], "updated_at": "2026-03-01T10:00:00Z"},
        {"id": 9002, "role": "end-user", "tags": [], "updated_at": "2026-03-01T10:00:00Z"},
        {
            "id": 501,
            "role": "agent",
            "custom_role_id": 360100,
            "tags": [],
            "updated_at": "2026-02-01T09:00:00Z",
        },
        {"id": 502, "role": "admin", "tags": [], "updated_at": "2026-02-01T09:00:00Z"},
    ],
    "end_of_stream": True,
}


def _ticket(ticket_id: int, **fields: Any) -> dict[str, Any]:
    base = {
        "id": ticket_id,
        "url": f"https://acme.zendesk.com/api/v2/tickets/{ticket_id}.json",
        "type": "question",
        "subject": "Refund not received",
        "priority": "normal",
        "requester_id": 9001,
        "submitter_id": 9001,
        "assignee_id": 501,
        "group_id": 77,
        "tags": ["billing"],
        "custom_fields": [{"id": 360001, "value": "billing_refund"}],
        "satisfaction_rating": {"score": "unoffered"},
        "followup_ids": [],
        "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
    }
    return {**base, **fields}


TICKET_1001 = _ticket(
    1001,
    priority="high",
    status="solved",
    custom_fields=[{"id": 360001, "value": "billing_refund"}, {"id": 360003, "value": "25.00"}],
    satisfaction_rating={"id": 8801, "score": "good", "comment": "Quick, thanks"},
    created_at="2026-03-02T08:14:05Z",
    updated_at="2026-03-02T09:40:11Z",
    generated_timestamp=1772444411,
)
# Zendesk's follow-up ticket: the customer came back after a closed ticket (no category set).
TICKET_1002 = _ticket(
    1002,
    status="new",
    assignee_id=None,
    priority=None,
    custom_fields=[{"id": 360001, "value": None}],
    via={"channel": "web", "source": {"from": {"ticket_id": 990}, "to": {}, "rel": "follow_up"}},
    created_at="2026-03-02T10:02:00Z",
    updated_at="2026-03-02T10:02:00Z",
)
TICKET_1003 = _ticket(
    1003,
    status="deleted",
    requester_id=9002,
    created_at="2026-03-02T07:00:00Z",
    updated_at="2026-03-02T07:05:00Z",
)
# Reopened: solved at 11:00, reopened at 12:00, solved again at 13:00 (the page holds the
# newest snapshot), on hold in between.
TICKET_1004 = _ticket(
    1004,
    status="solved",
    requester_id=9002,
    via={"channel": "voice", "source": {"from": {}, "to": {}, "rel": None}},
    created_at="2026-03-02T10:30:00Z",
    updated_at="2026-03-02T13:00:00Z",
)
TICKETS_PAGE_1 = {"tickets": [TICKET_1001, TICKET_1002, TICKET_1003], "end_of_stream": False}
# Re-polled: the next page starts again with 1001 (unchanged), then 1004.
TICKETS_PAGE_2 = {"tickets": [TICKET_1001, TICKET_1004], "end_of_stream": True}


def _audit(
    audit_id: int, ticket_id: int, at: str, updater: int, children: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": audit_id,
        "ticket_id": ticket_id,
        "timestamp": 0,
        "created_at": at,
        "updater_id": updater,
        "via": "Web form",
        "system": {},
        "metadata": {},
        "event_type": "Audit",
        "child_events": children,
    }


def _change(child_id: int, kind: str = "Change", **fields: Any) -> dict[str, Any]:
    return {"id": child_id, "via": "Web form", "via_reference_id": None, "event_type": kind, **fields}


def _comment(child_id: int, author: int, public: bool, at: str) -> dict[str, Any]:
    return {
        "id": child_id,
        "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
        "type": "Comment",
        "author_id": author,
        "body": "text",
        "public": public,
        "attachments": [],
        "created_at": at,
        "event_type": "Comment",
    }


EVENTS_PAGE = {
    "ticket_events": [
        _audit(
            7001,
            1001,
            "2026-03-02T08:14:05Z",
            9001,
            [
                _change(7002, "Create", status="new", previous_value=None),
                _comment(7003, 9001, True, "2026-03-02T08:14:05Z"),
            ],
        ),
        _audit(
            7010,
            1001,
            "2026-03-02T09:40:11Z",
            501,
            [
                _change(7011, assignee_id=501, previous_value=None),
                _change(7012, status="solved", previous_value="new"),
                _change(7013, custom_ticket_fields={"360003": "25.00"}, previous_value=None),
                _change(7016, custom_ticket_fields={"360004": "refund"}, previous_value=None),
                _change(7015, tags=["billing", "followed_up"], previous_value=["billing"]),
                _comment(7014, 501, True, "2026-03-02T09:40:11Z"),
                _change(7017, priority="high", previous_value="normal"),  # not a contract event
            ],
        ),
        _audit(7020, 1004, "2026-03-02T10:30:00Z", 9002, [_change(7021, "Create", status="new")]),
        _audit(
            7030,
            1004,
            "2026-03-02T10:40:00Z",
            9002,
            [_change(7031, tags=["billing", "asked_for_manager"], previous_value=["billing"])],
        ),
        _audit(
            7040,
            1004,
            "2026-03-02T11:00:00Z",
            501,
            [_change(7041, assignee_id=501, previous_value=None), _change(7042, status="solved")],
        ),
        _audit(
            7050, 1004, "2026-03-02T12:00:00Z", 9002, [_change(7051, status="open", previous_value="solved")]
        ),
        _audit(
            7055, 1004, "2026-03-02T12:10:00Z", 501, [_change(7056, status="hold", previous_value="open")]
        ),
        _audit(
            7060,
            1004,
            "2026-03-02T12:30:00Z",
            502,
            [_change(7061, group_id=78, previous_value=77), _change(7062, assignee_id=502)],
        ),
        _audit(
            7070, 1004, "2026-03-02T13:00:00Z", 502, [_change(7071, status="solved", previous_value="hold")]
        ),
        _audit(
            7080, 1003, "2026-03-02T07:05:00Z", 501, [_change(7081, status="deleted", previous_value="new")]
        ),
        _audit(
            7090, 1001, "2026-03-02T09:50:00Z", 4242, [_comment(7091, 4242, False, "2026-03-02T09:50:00Z")]
        ),
    ],
    "next_page": None,
    "count": 11,
    "end_of_stream": True,
    "end_time": 1772444411,
}

CONTACT_A = "a1a1a1a1-0000-4000-8000-000000000001"
CONTACT_B = "b2b2b2b2-0000-4000-8000-000000000002"
CONTACT_C = "c3c3c3c3-0000-4000-8000-000000000003"
CONTACT_D = "d4d4d4d4-0000-4000-8000-000000000004"
CONTACT_M = "e5e5e5e5-0000-4000-8000-000000000005"


def _ctr(contact: str, method: str, **fields: Any) -> dict[str, Any]:
    return {
        "AWSAccountId": "111122223333",
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "ContactId": contact,
        "InitialContactId": None,
        "PreviousContactId": None,
        "NextContactId": None,
        "Channel": "VOICE",
        "InitiationMethod": method,
        "CustomerEndpoint": {"Address": "+353861234567", "Type": "TELEPHONE_NUMBER"},
        "Attributes": {"zendesk_user_id": "9001"},
        "Agent": None,
        "Queue": None,
        **fields,
    }


def _agent(username: str, connected: str, interaction: int, hold: int = 0, holds: int = 0) -> dict[str, Any]:
    return {
        "Username": username,
        "ConnectedToAgentTimestamp": connected,
        "AgentInteractionDuration": interaction,
        "CustomerHoldDuration": hold,
        "NumberOfHolds": holds,
        "LongestHoldDuration": hold,
        "AfterContactWorkDuration": 60,
        "HierarchyGroups": {"Level1": {"GroupName": "Billing T1"}},
    }


CTR_A = _ctr(
    CONTACT_A,
    "INBOUND",
    NextContactId=CONTACT_D,
    InitiationTimestamp="2026-03-02T09:00:00Z",
    ConnectedToSystemTimestamp="2026-03-02T09:00:00Z",
    DisconnectTimestamp="2026-03-02T09:12:30Z",
    DisconnectReason="AGENT_DISCONNECT",
    LastUpdateTimestamp="2026-03-02T09:14:02Z",
    Attributes={"zendesk_user_id": "9001", "call_reason": "billing_refund"},
    Queue={
        "Name": "Billing",
        "EnqueueTimestamp": "2026-03-02T09:01:10Z",
        "DequeueTimestamp": "2026-03-02T09:02:40Z",
        "Duration": 90,
    },
    Agent=_agent("ana@acme.example", "2026-03-02T09:02:40Z", 470, hold=120, holds=2),
)
CTR_B = _ctr(  # asked for a queued callback before any agent answered
    CONTACT_B,
    "INBOUND",
    NextContactId=CONTACT_C,
    InitiationTimestamp="2026-03-02T11:35:00Z",
    DisconnectTimestamp="2026-03-02T11:37:00Z",
    DisconnectReason="CONTACT_FLOW_DISCONNECT",
    LastUpdateTimestamp="2026-03-02T11:37:01Z",
    Queue={
        "Name": "Billing",
        "EnqueueTimestamp": "2026-03-02T11:35:00Z",
        "DequeueTimestamp": "2026-03-02T11:37:00Z",
    },
)
CTR_C = _ctr(  # the callback
    CONTACT_C,
    "CALLBACK",
    InitialContactId=CONTACT_B,
    PreviousContactId=CONTACT_B,
    InitiationTimestamp="2026-03-02T11:37:00Z",
    ConnectedToSystemTimestamp="2026-03-02T11:39:10Z",
    DisconnectTimestamp="2026-03-02T11:45:00Z",
    LastUpdateTimestamp="2026-03-02T11:46:00Z",
    Attributes={"zendesk_user_id": "9001", "disposition": "fixed"},
    Queue={"Name": "CallbackQueue"},
    Agent=_agent("ana@acme.example", "2026-03-02T11:39:25Z", 335),
)
CTR_D = _ctr(  # A's transfer to the supervisors' queue
    CONTACT_D,
    "TRANSFER",
    InitialContactId=CONTACT_A,
    PreviousContactId=CONTACT_A,
    InitiationTimestamp="2026-03-02T09:12:20Z",
    DisconnectTimestamp="2026-03-02T09:20:00Z",
    LastUpdateTimestamp="2026-03-02T09:21:00Z",
    Attributes={"zendesk_user_id": "9001", "call_reason": "billing_refund"},
    Queue={"Name": "Billing Supervisors"},
    Agent=_agent("sam@acme.example", "2026-03-02T09:12:45Z", 435),
)
CTR_M = _ctr(
    CONTACT_M,
    "MONITOR",
    InitiationTimestamp="2026-03-02T09:05:00Z",
    LastUpdateTimestamp="2026-03-02T09:06:00Z",
)
# Re-delivered later (attributes updated after the call): the newest copy wins.
CTR_A_AGAIN = {**CTR_A, "LastUpdateTimestamp": "2026-03-02T10:00:00Z",
               "Attributes": {**CTR_A["Attributes"], "disposition": "fixed"}}  # fmt: skip

LENS_TIME = "2026-03-02T09:13:10Z"
LENS_A = {
    "Version": "1.1.0",
    "Channel": "VOICE",
    "ContentMetadata": {"Output": "Raw"},
    "JobStatus": "COMPLETED",
    "Participants": [{"ParticipantId": "CUSTOMER", "ParticipantRole": "CUSTOMER"}],
    "Categories": {"MatchedCategories": ["ManagerEscalation", "Refund"], "MatchedDetails": {}},
    "ConversationCharacteristics": {
        "TotalConversationDurationMillis": 590000,
        "Sentiment": {
            "OverallSentiment": {"AGENT": 1.2, "CUSTOMER": -1.9},
            "SentimentByPeriod": {
                "QUARTER": {
                    "AGENT": [{"Score": 1.3}, {"Score": 0.8}, {"Score": 1.4}, {"Score": 1.3}],
                    "CUSTOMER": [{"Score": -3.1}, {"Score": -2.5}, {"Score": -2.0}, {"Score": 0.0}],
                }
            },
        },
        "Interruptions": {
            "TotalCount": 4,
            "TotalTimeMillis": 9100,
            "InterruptionsByInterrupter": {
                "AGENT": [{"DurationMillis": 2100}, {"DurationMillis": 1800}, {"DurationMillis": 2600}],
                "CUSTOMER": [{"DurationMillis": 2600}],
            },
        },
        "TalkTime": {"TotalTimeMillis": 412000},
    },
    "Transcript": [{"ParticipantId": "CUSTOMER", "Content": "I want my refund", "Sentiment": "NEGATIVE"}],
}
LENS_A_REDACTED = {**LENS_A, "ContentMetadata": {"Output": "Redacted"}, "Transcript": [{"Content": "[PII]"}]}
LENS_C = {  # no interruptions at all, as in AWS's example
    **LENS_A,
    "Categories": {"MatchedCategories": [], "MatchedDetails": {}},
    "ConversationCharacteristics": {
        "Sentiment": {"SentimentByPeriod": {"QUARTER": {"CUSTOMER": [{"Score": 1.0}, {"Score": 2.5}]}}},
        "Interruptions": {"TotalCount": 0, "TotalTimeMillis": 0, "InterruptionsByInterrupter": {}},
        "TalkTime": {"TotalTimeMillis": 300000},
    },
}


def write_landing(landing: Storage) -> None:
    """The vendor landing, laid out as the vendors (and the mapping's default prefixes) write it."""
    put = landing.write_bytes

    put("zendesk/users/2026/03/02/users-1.json", json.dumps(USERS).encode())
    put("zendesk/tickets/2026/03/02/page-0001.json", json.dumps(TICKETS_PAGE_1).encode())
    put("zendesk/tickets/2026/03/02/page-0002.json", json.dumps(TICKETS_PAGE_2).encode())
    put("zendesk/ticket_events/2026/03/02/page-0001.json", json.dumps(EVENTS_PAGE).encode())
    # Firehose's default: records concatenated with no delimiter, no extension.
    concatenated = "".join(json.dumps(r) for r in (CTR_A, CTR_B, CTR_C, CTR_D, CTR_M))
    put("connect/ctr/2026/03/02/09/ctr-stream-1-2026-03-02-09-15-00-0001", concatenated.encode())
    # With AppendDelimiterToRecord and GZIP: one per line, gzipped (no `.gz` suffix either).
    put(
        "connect/ctr/2026/03/02/10/ctr-stream-1-2026-03-02-10-00-05-0002",
        gzip.compress(json.dumps(CTR_A_AGAIN).encode() + b"\n", mtime=0),
    )
    lens = "connect/Analysis/Voice/2026/03/02"
    put(f"{lens}/{CONTACT_A}_analysis_{LENS_TIME}.json", json.dumps(LENS_A).encode())
    put(
        f"connect/Analysis/Voice/Redacted/2026/03/02/{CONTACT_A}_analysis_redacted_{LENS_TIME}.json",
        json.dumps(LENS_A_REDACTED).encode(),
    )
    put(f"{lens}/{CONTACT_C}_analysis_2026-03-02T11:46:30Z.json", json.dumps(LENS_C).encode())
