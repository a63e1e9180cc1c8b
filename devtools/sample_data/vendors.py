"""The generated centre as Zendesk and Amazon Connect write it (`audit generate --vendor zendesk+connect`).

The same `Dataset` as the contract exports, and the same contract rows (`generate.day_records`),
rendered per export day as the vendors' records under the mapping's default prefixes
(docs/vendors.md): a Zendesk users page, a ticket page and a ticket-event page per day, Amazon
Connect contact records as Kinesis Data Firehose delivers them, Contact Lens analysis files, and
the mapping file that reads them back (`_generator/mapping.toml`). The adapters (adapters/) map
this landing to the contract rows the contract writer gives for the same centre, except where a
vendor cannot carry a contract value (docs/sample_data.md#vendor-exports;
tests/golden/test_golden_vendor.py compares the two).

Ids are the vendors': Zendesk users, tickets, groups and events are integers and Connect contacts
are UUIDs, so every contract id is renamed by `vendor_id`, a bijection that keeps the contract
ids' order (the metrics break ties on the smaller id).

The contract's bad rows and delivery faults have no vendor equivalent: vendor exports are written
without them (`bad_row_share = 0`).
"""

from __future__ import annotations

import gzip
import json
import re
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import polars as pl

from configs.policy import Policy
from configs.settings import S3Settings
from configs.vendors import VendorMapping
from devtools.sample_data.config import ENTITIES, GeneratorConfig
from devtools.sample_data.generate import (
    PLANTS_KEY,
    Dataset,
    GenerationSummary,
    build_dataset,
    day_records,
    describe_config,
    planted_ids,
)
from devtools.sample_data.population import agent_id, supervisor_id
from storage import open_storage

VENDOR = "zendesk+connect"
MAPPING_KEY = "_generator/mapping.toml"
ACCOUNT = "111122223333"

# Zendesk custom fields and the supervisors' custom role (made-up ids, named in the mapping).
CATEGORY_FIELD = 360001
AMOUNT_FIELD, TYPE_FIELD, CURRENCY_FIELD, APPROVED_BY_FIELD, REASON_FIELD = (
    360003,
    360004,
    360005,
    360006,
    360007,
)
SUPERVISOR_ROLE = 360200
SYSTEM_USER = -1  # Zendesk's updater id for triggers and automations
# Tags a macro or trigger adds; the escalation tag carries its level.
ESCALATION_REQUEST_TAG, FOLLOW_UP_TAG, ESCALATION_TAG = "asked_for_manager", "followed_up", "escalated_t{}"
SUPERVISOR_RULE = "ManagerEscalation"  # the Contact Lens rule: the customer asked for a supervisor
USERNAME_DOMAIN = "support.example"
ZENDESK_API = "https://support.zendesk.example/api/v2"
PAGE_SIZE = 1000  # Zendesk's incremental exports return at most 1,000 items a page

ZENDESK_STATUS = {"on_hold": "hold"}  # the others are spelled the same
VIA_CHANNEL = {
    "email": "email",
    "chat": "chat",
    "web": "web",
    "phone": "voice",
    "social": "twitter",
    "other": "api",
}
# The same channels as via ids (Zendesk writes `via.channel` as a type or its id): every other
# ticket gets the id, so both shapes go through the adapter.
VIA_ID = {"email": 4, "chat": 29, "web": 0, "phone": 34, "social": 30, "other": 5}
INITIATION = {"inbound": "INBOUND", "outbound": "OUTBOUND", "callback": "CALLBACK", "transfer": "TRANSFER"}
ANSWERED_BY_AGENT = ("inbound", "transfer")  # answered_at is the agent's connect time, else the customer's
CSAT_GOOD_MIN = 4  # legacy CSAT is good/bad: 4 and 5 are good, as the csat_good metric counts them
CSAT_GOOD, CSAT_BAD = 5, 1

# --- ids ----------------------------------------------------------------------------------------

# Contract id prefix -> the first digit of the Zendesk id. Users share one id space, in the order
# of the contract ids (agent- < cust- < sup-); tickets, events and groups have spaces of their own.
_LEAD = {"agent-": "1", "cust-": "2", "sup-": "3", "team-": "4", "T-": "1", "E-": "1"}
_CONTRACT_ID = re.compile(r"(agent-|cust-|sup-|team-|T-|E-|C-)(\d+)")
# Event-id digits behind a different first digit: the other children of a contract event's
# audit (Zendesk ids are unique per resource, so these never meet the event ids).
_GROUP_CHILD, _TYPE_CHILD, _CURRENCY_CHILD, _APPROVER_CHILD, _REASON_CHILD, _AUDIT, _REMOVAL_CHILD = "2345678"
REMOVED_TAG = "pending_review"  # a tag a trigger clears in the same update (no contract event)


def vendor_id(value: str) -> str:
    """The vendor's id for a contract id; any other text is returned as it is.

    `agent-0007` -> `10007`, `cust-0000042` -> `20000042`, `sup-01` -> `301`, `team-01` -> `401`,
    `T-00000042` -> `100000042`, `E-0000000042` -> `10000000042` (Zendesk integers, the same width
    within a kind, so their text sorts as the contract ids do) and `C-00000042` ->
    `00000000-0000-4000-8000-000000000042` (a Connect ContactId).
    """
    found = _CONTRACT_ID.fullmatch(value)
    if found is None:
        return value
    prefix, digits = found.groups()
    if prefix == "C-":
        return f"00000000-0000-4000-8000-{int(digits):012d}"
    return _LEAD[prefix] + digits


def zendesk_id(value: str, lead: str | None = None) -> int:
    """A contract id as a Zendesk integer id; `lead` replaces the first digit (another child of
    the same contract event)."""
    text = vendor_id(value)
    if not text.isdigit():
        raise ValueError(f"{value!r} has no Zendesk id")
    return int((lead or text[0]) + text[1:])


def vendor_ids(value: Any) -> Any:
    """`vendor_id` through the strings of a JSON-like value (plants.json)."""
    if isinstance(value, str):
        return vendor_id(value)
    if isinstance(value, list):
        return [vendor_ids(v) for v in value]
    if isinstance(value, dict):
        return {k: vendor_ids(v) for k, v in value.items()}
    return value


def username(agent: str) -> str:
    """An agent's Connect username (the mapping's `connect.agent_ids` maps it to the Zendesk id)."""
    return f"{agent}@{USERNAME_DOMAIN}"


def _iso(value: datetime | None) -> str | None:
    """Zendesk's and Connect's timestamps: ISO-8601 UTC to the second, `Z`."""
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _user(contract_id: str | None) -> int | None:
    return None if contract_id is None else zendesk_id(contract_id)


def _seconds(value: float | None) -> float | int | None:
    """Connect durations are whole seconds; the generator's are too."""
    return None if value is None else int(value) if float(value).is_integer() else value


def _compact(record: dict[str, Any]) -> dict[str, Any]:
    """Without the keys whose value is None (a vendor leaves an unknown field out)."""
    return {k: v for k, v in record.items() if v is not None}


def _json(document: dict[str, Any], gzipped: bool = False) -> bytes:
    data = json.dumps(document, separators=(",", ":")).encode()
    return gzip.compress(data, compresslevel=6, mtime=0) if gzipped else data


@dataclass(frozen=True)
class VendorObject:
    """One object of the vendor landing and the contract rows it carries (`entity` None: users,
    Contact Lens files and the mapping, which feed no entity of their own)."""

    key: str
    data: bytes
    entity: str | None = None
    rows: int = 0


# --- Zendesk users ------------------------------------------------------------------------------


def staff_users(data: Dataset, at: datetime) -> list[dict[str, Any]]:
    """Every agent (role `agent`) and supervisor (`agent` with the supervisors' custom role)."""
    pop, stamp = data.pop, _iso(at)
    agents = [(agent_id(a), int(pop.agent_team[a]), None) for a in range(pop.n_agents)]
    supervisors = [(supervisor_id(t), t, SUPERVISOR_ROLE) for t in range(pop.n_teams)]
    return [
        {
            "id": zendesk_id(person),
            "name": f"Staff {person}",
            "email": username(person),
            "role": "agent",
            "custom_role_id": role,
            "default_group_id": zendesk_id(f"team-{team:02d}"),
            "active": True,
            "suspended": False,
            "tags": [],
            "user_fields": {},
            "created_at": stamp,
            "updated_at": stamp,
        }
        for person, team, role in agents + supervisors
    ]


def customer_user(customer: str, tier: str | None, first_seen: datetime) -> dict[str, Any]:
    """A requester as an end-user; the tier is a user tag (`tier_<tier>`), as Zendesk keeps it."""
    return {
        "id": zendesk_id(customer),
        "name": f"Customer {customer}",
        "role": "end-user",
        "custom_role_id": None,
        "active": True,
        "suspended": False,
        "tags": [f"tier_{tier}"] if tier else [],
        "user_fields": {},
        "created_at": _iso(first_seen),
        "updated_at": _iso(first_seen),
    }


def cursor_page(resource: str, items: list[dict[str, Any]], after: str | None) -> dict[str, Any]:
    """A page of a cursor-based incremental export (users, tickets); `after` None: the last."""
    url = f"{ZENDESK_API}/incremental/{resource}/cursor.json?cursor={after}" if after else None
    return {
        resource: items,
        "after_cursor": after,
        "after_url": url,
        "before_cursor": None,
        "before_url": None,
        "end_of_stream": after is None,
    }


# --- Zendesk tickets ----------------------------------------------------------------------------


def ticket_snapshot(row: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    """A contract ticket version as the incremental ticket export's snapshot."""
    ticket = zendesk_id(row["ticket_id"])
    return {
        "id": ticket,
        "url": f"{ZENDESK_API}/tickets/{ticket}.json",
        "type": "question",
        "subject": row["subject"],
        "raw_subject": row["subject"],
        "priority": row["priority"],
        "status": ZENDESK_STATUS.get(row["status"], row["status"]),
        "requester_id": _user(row["customer_id"]),
        "submitter_id": _user(row["customer_id"]),
        "assignee_id": _user(row["assignee_id"]),
        "group_id": _user(row["team_id"]),
        "tags": list(tags),
        "custom_fields": [{"id": CATEGORY_FIELD, "value": row["category"]}],
        "satisfaction_rating": satisfaction(row["csat_score"]),
        "followup_ids": [],
        "via": {
            "channel": (VIA_ID if ticket % 2 else VIA_CHANNEL)[row["channel"]],
            "source": {"from": {}, "to": {}, "rel": None},
        },
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "generated_timestamp": int(row["updated_at"].timestamp()),
    }


def satisfaction(score: int | None) -> dict[str, Any]:
    """Legacy CSAT is binary: a 1-5 score is `good` from 4 up (as the csat_good metric counts it),
    else `bad`; the mapping reads them back as CSAT_GOOD and CSAT_BAD, so csat_good is exact and
    the score itself is not (docs/sample_data.md#vendor-exports)."""
    if score is None:
        return {"score": "unoffered"}
    return {"score": "good" if score >= CSAT_GOOD_MIN else "bad", "comment": ""}


# --- Zendesk ticket events ----------------------------------------------------------------------


@dataclass
class TicketState:
    """What a ticket's updates carry from one to the next: its tags (a tag change lists the tags
    before and after), status and assignee (`previous_value`)."""

    tags: dict[str, list[str]] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    assignee: dict[str, int] = field(default_factory=dict)

    def open(self, ticket: str, category: str) -> None:
        """A new ticket: the category drop-down's value is a tag too, as in Zendesk."""
        self.tags.setdefault(ticket, [category])

    def tag(self, ticket: str, tag: str) -> tuple[list[str], list[str]]:
        """(before, after) of adding a tag. Adding a tag the ticket has is no change in Zendesk,
        so the contract event it stands for could not be read back."""
        before = self.tags.setdefault(ticket, [])
        if tag in before:
            raise ValueError(f"{ticket} gets tag {tag} twice: not representable as a Zendesk tag change")
        self.tags[ticket] = [*before, tag]
        return before, self.tags[ticket]


def ticket_update(row: dict[str, Any], state: TicketState) -> dict[str, Any]:
    """One contract event as one ticket update (an audit) of the incremental event export, whose
    first child has the contract `event_id` as its id."""
    event = row["event_id"]
    children = _children(row, state)
    for child in children:
        child.setdefault("via", "Web form")
        child.setdefault("via_reference_id", None)
    system = row["actor_role"] == "system"
    return {
        "id": zendesk_id(event, _AUDIT),
        "ticket_id": zendesk_id(row["ticket_id"]),
        "timestamp": int(row["occurred_at"].timestamp()),
        "created_at": _iso(row["occurred_at"]),
        "updater_id": SYSTEM_USER if system else _user(row["actor_id"]),
        "via": "Rule" if system else "Web form",
        "system": {},
        "metadata": {},
        "event_type": "Audit",
        "child_events": children,
    }


def _children(row: dict[str, Any], state: TicketState) -> list[dict[str, Any]]:
    """The child events standing for one contract event."""
    kind, event, ticket = row["event_type"], row["event_id"], row["ticket_id"]
    child: dict[str, Any] = {"id": zendesk_id(event)}
    if kind == "comment":
        return [comment_child(row)]
    if kind == "status_change":
        status = ZENDESK_STATUS.get(row["new_status"], row["new_status"])
        previous = state.status.get(ticket)
        state.status[ticket] = status
        event_type = "Create" if previous is None else "Change"
        return [{**child, "event_type": event_type, "status": status, "previous_value": previous}]
    if kind == "assignment":
        return assignment_children(row, state)
    if kind == "concession":
        return concession_children(row)
    tag = {
        "escalation_request": ESCALATION_REQUEST_TAG,
        "follow_up": FOLLOW_UP_TAG,
        "escalation": ESCALATION_TAG.format(row["escalation_level"]),
    }[kind]
    before, after = state.tag(ticket, tag)
    if child["id"] % 2 == 0:
        return [{**child, "event_type": "Change", "tags": after, "previous_value": before}]
    # The other shape exports write: the tags now with those added and removed (no previous
    # value), beside a change of the same update that only removed a tag (no contract event).
    removal = {"id": zendesk_id(event, _REMOVAL_CHILD), "event_type": "Change", "tags": after}
    return [
        {**child, "event_type": "Change", "tags": after, "added_tags": [tag], "removed_tags": []},
        {**removal, "added_tags": [], "removed_tags": [REMOVED_TAG]},
    ]


def comment_child(row: dict[str, Any]) -> dict[str, Any]:
    event = row["event_id"]
    return {
        "id": zendesk_id(event),
        "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
        "type": "Comment",
        "author_id": _user(row["actor_id"]),
        "body": row["body"] or "",
        "html_body": f"<p>{row['body'] or ''}</p>",
        "public": row["public"],
        "attachments": [],
        "audit_id": zendesk_id(event, _AUDIT),
        "created_at": _iso(row["occurred_at"]),
        "event_type": "Comment",
    }


def assignment_children(row: dict[str, Any], state: TicketState) -> list[dict[str, Any]]:
    """The assignee change, and the group change in the same update (the row's team): the
    mapping names no escalation group, so a group change is never an escalation."""
    event, ticket, assignee = row["event_id"], row["ticket_id"], _user(row["assignee_id"])
    previous = state.assignee.get(ticket)
    if assignee is not None:
        state.assignee[ticket] = assignee
    children = [
        {"id": zendesk_id(event), "event_type": "Change", "assignee_id": assignee, "previous_value": previous}
    ]
    if row["team_id"] is not None:
        group = {"id": zendesk_id(event, _GROUP_CHILD), "group_id": _user(row["team_id"])}
        children.append({**group, "event_type": "Change", "previous_value": None})
    return children


def concession_children(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The amount field's change (the contract event's id) and one change per other concession
    field set in the same update: type, currency, who approved, reason code."""
    event = row["event_id"]
    fields = [
        ("", AMOUNT_FIELD, repr(float(row["concession_amount"]))),
        (_TYPE_CHILD, TYPE_FIELD, row["concession_type"]),
        (_CURRENCY_CHILD, CURRENCY_FIELD, row["currency"]),
        (_APPROVER_CHILD, APPROVED_BY_FIELD, vendor_id(row["approved_by"]) if row["approved_by"] else None),
        (_REASON_CHILD, REASON_FIELD, row["reason_code"]),
    ]
    return [
        {
            "id": zendesk_id(event, lead or None),
            "event_type": "Change",
            "custom_ticket_fields": {str(field_id): value},
            "previous_value": None,
        }
        for lead, field_id, value in fields
        if value is not None
    ]


def events_page(updates: list[dict[str, Any]], after: str | None) -> dict[str, Any]:
    """A page of the incremental ticket-event export (time-based, with comment events)."""
    end_time = updates[-1]["timestamp"] if updates else None
    url = f"{ZENDESK_API}/incremental/ticket_events.json?include=comment_events&start_time={end_time}"
    return {
        "ticket_events": updates,
        "next_page": url,
        "count": len(updates),
        "end_of_stream": after is None,
        "end_time": end_time,
    }


PAGES: dict[str, Callable[[list[dict[str, Any]], str | None], dict[str, Any]]] = {
    "users": partial(cursor_page, "users"),
    "tickets": partial(cursor_page, "tickets"),
    "ticket_events": events_page,
}


def zendesk_pages(
    resource: str, items: list[dict[str, Any]], day: date, gzipped: bool = False
) -> Iterator[tuple[str, bytes, int]]:
    """(key, bytes, items) of each page a day's fetch of an incremental export stores: at most
    PAGE_SIZE items a page, as Zendesk returns them, under `zendesk/<resource>/YYYY/MM/DD/`."""
    chunks = [items[i : i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)]
    for number, chunk in enumerate(chunks, start=1):
        after = f"{day:%Y%m%d}-{number + 1:04d}" if number < len(chunks) else None
        key = f"zendesk/{resource}/{day:%Y/%m/%d}/page-{number:04d}.json{'.gz' if gzipped else ''}"
        yield key, _json(PAGES[resource](chunk, after), gzipped), len(chunk)


# --- Amazon Connect contact records ---------------------------------------------------------------


@dataclass(frozen=True)
class CallFacts:
    """What a contact record and its analysis need beyond the call version being written."""

    first_update: dict[str, datetime]  # call -> updated_at of its first exported version
    final: dict[str, dict[str, Any]]  # call -> its last exported version (the one the store keeps)
    next_contact: dict[str, str]  # call -> the transfer leg that continued it

    @classmethod
    def of(cls, versions: pl.DataFrame) -> CallFacts:
        ordered = versions.sort("updated_at", "call_id")
        first = ordered.unique("call_id", keep="first", maintain_order=True)
        final = ordered.unique("call_id", keep="last", maintain_order=True)
        legs = final.filter(pl.col("previous_call_id").is_not_null())
        return cls(
            first_update=dict(zip(first["call_id"], first["updated_at"], strict=True)),
            final={row["call_id"]: row for row in final.iter_rows(named=True)},
            next_contact=dict(zip(legs["previous_call_id"], legs["call_id"], strict=True)),
        )

    def analysed_at(self, call: str) -> datetime:
        """When Contact Lens finished: between the call's end and its first contact record, so
        the record's `updated_at` (the later of the two) is the contract's."""
        ended, first = self.final[call]["ended_at"], self.first_update[call]
        return ended + timedelta(seconds=(first - ended).total_seconds() // 2) if first > ended else first


def contact_record(row: dict[str, Any], facts: CallFacts) -> dict[str, Any]:
    """A contract call version as the contact record (CTR) Connect writes for the leg."""
    call, direction, answered = row["call_id"], row["direction"], row["answered_at"]
    previous = vendor_id(row["previous_call_id"]) if row["previous_call_id"] else None
    following = facts.next_contact.get(call)
    return {
        "AWSAccountId": ACCOUNT,
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "ContactId": vendor_id(call),
        "InitialContactId": previous,
        "PreviousContactId": previous,
        "NextContactId": vendor_id(following) if following else None,
        "Channel": "VOICE",
        "InitiationMethod": INITIATION[direction],
        "InitiationTimestamp": _iso(row["initiated_at"]),
        # The customer's line connected: at once when they call in, when they pick up when called.
        "ConnectedToSystemTimestamp": _iso(
            row["initiated_at"] if direction in ANSWERED_BY_AGENT else answered
        ),
        "DisconnectTimestamp": _iso(row["ended_at"]),
        "LastUpdateTimestamp": _iso(row["updated_at"]),
        "Attributes": contact_attributes(row),
        "Queue": _queue(row),
        "Agent": _agent(row),
    }


def contact_attributes(row: dict[str, Any]) -> dict[str, str]:
    """The contact attributes the contact flows and the agent's disposition set (strings)."""
    abandoned = row["answered_at"] is None and row["direction"] in ANSWERED_BY_AGENT
    amount = row["concession_amount"]
    values = {
        "zendesk_user_id": vendor_id(row["customer_id"]),
        "call_reason": row["category"],
        "zendesk_ticket_id": vendor_id(row["ticket_id"]) if row["ticket_id"] else None,
        # No agent answered an abandoned call, so no disposition: the adapter derives `abandoned`.
        "disposition": None if abandoned and row["outcome"] == "abandoned" else row["outcome"],
        "escalated_to": vendor_id(row["escalated_to"]) if row["escalated_to"] else None,
        "survey_satisfied": None
        if row["satisfaction_confirmed"] is None
        else str(row["satisfaction_confirmed"]).lower(),
        "concession_type": row["concession_type"],
        "concession_amount": None if amount is None else repr(float(amount)),
        "concession_currency": row["currency"],
        "concession_approved_by": vendor_id(row["approved_by"]) if row["approved_by"] else None,
    }
    return _compact(values)


def _queue(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["queue"] is None:
        return None
    left = row["answered_at"] or row["ended_at"]
    return {
        "Name": row["queue"],
        "EnqueueTimestamp": _iso(row["initiated_at"]),
        "DequeueTimestamp": _iso(left),
        "Duration": int((left - row["initiated_at"]).total_seconds()),
    }


def _agent(row: dict[str, Any]) -> dict[str, Any] | None:
    """The agent on the leg. `ConnectedToAgentTimestamp` is when the customer was connected to
    them, so a called customer who never picked up leaves it out (the leg was not answered)."""
    if row["agent_id"] is None:
        if row["answered_at"] is not None:
            raise ValueError(f"{row['call_id']}: answered with no agent is not a Connect contact record")
        return None
    team = {"Level1": {"GroupName": vendor_id(row["team_id"])}} if row["team_id"] else None
    agent = {
        "Username": username(row["agent_id"]),
        "ConnectedToAgentTimestamp": _iso(row["answered_at"]),
        "AgentInteractionDuration": _seconds(row["talk_seconds"]),
        "CustomerHoldDuration": _seconds(row["hold_seconds"]),
        "NumberOfHolds": row["hold_count"],
        "HierarchyGroups": team,
    }
    return _compact(agent)


FIREHOSE_BUFFER_SECONDS = 900  # Firehose's longest buffer interval: an object per 15 minutes at most


def firehose_objects(day: date, rows: list[dict[str, Any]], facts: CallFacts) -> list[VendorObject]:
    """The day's contact records as Firehose delivers them: one object per buffer interval that
    received any (`connect/ctr/YYYY/MM/DD/HH/<stream>-<version>-<time>-<id>`, the hour of its
    oldest record), records concatenated with no delimiter; the objects of odd hours gzipped
    without a `.gz` suffix (compression on, Firehose's default name)."""
    buffers: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        buffers.setdefault(int(row["updated_at"].timestamp()) // FIREHOSE_BUFFER_SECONDS, []).append(row)
    objects = []
    for number, records in sorted(buffers.items()):
        oldest, delivered = records[0]["updated_at"], records[-1]["updated_at"]
        stream_id = uuid.uuid5(uuid.NAMESPACE_URL, f"support-audit-ctr/{number}")
        name = f"support-audit-ctr-1-{delivered:%Y-%m-%d-%H-%M-%S}-{stream_id}"
        body = "".join(json.dumps(contact_record(r, facts), separators=(",", ":")) for r in records).encode()
        data = gzip.compress(body, compresslevel=6, mtime=0) if oldest.hour % 2 else body
        key = f"connect/ctr/{oldest:%Y/%m/%d/%H}/{name}"
        objects.append(VendorObject(key, data, "calls", len(records)))
    return objects


# --- Contact Lens -------------------------------------------------------------------------------

LENS_FIGURES = ("agent_interruptions", "sentiment_start", "sentiment_end", "supervisor_requested")


def lens_objects(call: str, facts: CallFacts, redacted_twin: bool) -> list[VendorObject]:
    """The post-call analysis of a call that has any Contact Lens figure in its last exported
    version (original, and for some a redacted twin). The folder is the day the agent was
    connected (Contact Lens files a call under it, even when the analysis ends after midnight);
    the key's time is the analysis time."""
    final = facts.final[call]
    if all(final[f] is None for f in LENS_FIGURES):
        return []
    at, folder = facts.analysed_at(call), f"{final['answered_at'] or final['initiated_at']:%Y/%m/%d}"
    contact, stamp = vendor_id(call), _iso(at)
    analysis = lens_analysis(final, contact)
    key = f"connect/Analysis/Voice/{folder}/{contact}_analysis_{stamp}.json"
    objects = [VendorObject(key, _json(analysis))]
    if redacted_twin:
        twin = {**analysis, "ContentMetadata": {"Output": "Redacted"}}
        key = f"connect/Analysis/Voice/Redacted/{folder}/{contact}_analysis_redacted_{stamp}.json"
        objects.append(VendorObject(key, _json(twin)))
    return objects


def lens_analysis(row: dict[str, Any], contact: str) -> dict[str, Any]:
    """A Contact Lens output file whose figures are the call's: the AGENT's interruptions, the
    customer's first and last quarter sentiment, the supervisor-request rule matched or not.

    A figure the contract row leaves empty is left out as Contact Lens does: no `Interruptions`,
    no `Sentiment` (the generator's call exported before its analytics completed knows its
    interruptions but not its sentiment), the rule listed in `JobDetails.SkippedAnalysis`.
    """
    talk_ms = int((row["talk_seconds"] or 0) * 1000)
    characteristics: dict[str, Any] = {
        "TotalConversationDurationMillis": talk_ms,
        "TalkTime": {"TotalTimeMillis": talk_ms * 7 // 10},
    }
    if row["agent_interruptions"] is not None:
        characteristics["Interruptions"] = interruptions(row["agent_interruptions"], talk_ms)
    if row["sentiment_start"] is not None or row["sentiment_end"] is not None:
        characteristics["Sentiment"] = sentiment(row["sentiment_start"], row["sentiment_end"], talk_ms)
    requested = row["supervisor_requested"]
    analysis: dict[str, Any] = {
        "Version": "1.1.0",
        "AccountId": ACCOUNT,
        "Channel": "VOICE",
        "ContentMetadata": {"Output": "Raw"},
        "JobStatus": "COMPLETED",
        "LanguageCode": "en-US",
        "Participants": [
            {"ParticipantId": "CUSTOMER", "ParticipantRole": "CUSTOMER"},
            {"ParticipantId": "AGENT", "ParticipantRole": "AGENT"},
        ],
        "Categories": {
            "MatchedCategories": [SUPERVISOR_RULE] if requested else [],
            "MatchedDetails": {SUPERVISOR_RULE: {"PointsOfInterest": []}} if requested else {},
        },
        "ConversationCharacteristics": characteristics,
        "CustomModels": [],
        "Transcript": [],
        "CustomerMetadata": {"ContactId": contact, "InstanceId": "generated"},
    }
    if requested is None:
        skipped = {
            "ReasonCode": "FAILED_SAFETY_GUIDELINES",
            "SkippedEntities": [{"CategoryName": SUPERVISOR_RULE}],
        }
        analysis["JobDetails"] = {"SkippedAnalysis": [skipped]}
    return analysis


def interruptions(count: int, talk_ms: int) -> dict[str, Any]:
    """`count` AGENT interruptions spread over the talk (an empty `InterruptionsByInterrupter`
    when none, as in AWS's example)."""
    spacing = max(talk_ms // (count + 1), 1)
    agent = [
        {
            "BeginOffsetMillis": spacing * (i + 1),
            "DurationMillis": 1500,
            "EndOffsetMillis": spacing * (i + 1) + 1500,
        }
        for i in range(count)
    ]
    return {
        "TotalCount": count,
        "TotalTimeMillis": 1500 * count,
        "InterruptionsByInterrupter": {"AGENT": agent} if agent else {},
    }


def sentiment(start: float | None, end: float | None, talk_ms: int) -> dict[str, Any]:
    """The customer's sentiment by quarter, from `start` to `end` (the contract's start and end
    are the first and last quarter's scores)."""
    if start is None or end is None:
        raise ValueError("a sentiment start without an end (or the reverse) has no Contact Lens form")
    scores = [start, round(start + (end - start) / 3, 1), round(start + 2 * (end - start) / 3, 1), end]
    quarter = max(talk_ms // 4, 1)
    periods = [
        {"BeginOffsetMillis": quarter * i, "EndOffsetMillis": quarter * (i + 1), "Score": score}
        for i, score in enumerate(scores)
    ]
    agent = [{**p, "Score": 1.0} for p in periods]
    return {
        "OverallSentiment": {"AGENT": 1.0, "CUSTOMER": round(sum(scores) / 4, 1)},
        "SentimentByPeriod": {"QUARTER": {"AGENT": agent, "CUSTOMER": periods}},
    }


# --- the mapping file ---------------------------------------------------------------------------

MAPPING_TEMPLATE = """\
# Written by `audit generate --vendor zendesk+connect` (docs/sample_data.md#vendor-exports): how the
# generated Zendesk and Amazon Connect exports in this landing map back onto contract v1. Use it as
# vendor_mapping_path with landing_vendor = "zendesk+connect" (docs/vendors.md).

[zendesk]
supervisor_custom_role_ids = [{supervisor_role}]
system_user_ids = [{system_user}]
csat_good = {csat_good}
csat_bad = {csat_bad}
tier_tag_pattern = "tier_(.+)"

[zendesk.category]
custom_field_id = {category_field}

[zendesk.escalation]
tag_pattern = 'escalated_t(\\d)'

[zendesk.escalation_request]
tag_pattern = "{escalation_request_tag}"

[zendesk.follow_up]
tag_pattern = "{follow_up_tag}"

[zendesk.concession]
amount_field_id = {amount_field}
type_field_id = {type_field}
currency_field_id = {currency_field}
approved_by_field_id = {approved_by_field}
reason_code_field_id = {reason_field}

[connect]
customer_id_attribute = "zendesk_user_id"
category_attribute = "call_reason"
ticket_id_attribute = "zendesk_ticket_id"
outcome_attribute = "disposition"
escalated_to_attribute = "escalated_to"
satisfaction_attribute = "survey_satisfied"
concession_type_attribute = "concession_type"
concession_amount_attribute = "concession_amount"
currency_attribute = "concession_currency"
approved_by_attribute = "concession_approved_by"
supervisor_request_categories = ["{supervisor_rule}"]
talk_time_basis = "agent_interaction"
# The agent hierarchy's Level1 group is the team, named by its Zendesk group id.
hierarchy_level = "Level1"

[connect.agent_ids]  # Connect username -> Zendesk user id: one person, one id
"""


def mapping_toml(data: Dataset) -> str:
    """The mapping file for this centre (its agents' usernames), checked before it is returned."""
    head = MAPPING_TEMPLATE.format(
        supervisor_role=SUPERVISOR_ROLE,
        system_user=SYSTEM_USER,
        csat_good=CSAT_GOOD,
        csat_bad=CSAT_BAD,
        category_field=CATEGORY_FIELD,
        escalation_request_tag=ESCALATION_REQUEST_TAG,
        follow_up_tag=FOLLOW_UP_TAG,
        amount_field=AMOUNT_FIELD,
        type_field=TYPE_FIELD,
        currency_field=CURRENCY_FIELD,
        approved_by_field=APPROVED_BY_FIELD,
        reason_field=REASON_FIELD,
        supervisor_rule=SUPERVISOR_RULE,
    )
    agents = (agent_id(a) for a in range(data.pop.n_agents))
    text = head + "".join(f'"{username(a)}" = "{vendor_id(a)}"\n' for a in agents)
    VendorMapping.model_validate(tomllib.loads(text))
    return text


# --- the landing --------------------------------------------------------------------------------


def day_rows(data: Dataset) -> Iterator[tuple[date, dict[str, pl.DataFrame]]]:
    """Each export day and its contract rows per entity (the contract writer's `day_records`)."""
    sources = {"tickets": data.ticket_versions, "ticket_events": data.events, "calls": data.calls}
    parts = {e: sources[e].partition_by("day", as_dict=True, maintain_order=True) for e in ENTITIES}
    for index in range(data.config.days):
        rows = {}
        for entity in ENTITIES:
            part = parts[entity].get((index,))
            rows[entity] = day_records(data, entity, part) if part is not None else pl.DataFrame()
        yield data.day(index), rows


@dataclass
class VendorWriter:
    """Writes the export days in order; carries what a day's records need from earlier days:
    the tickets' tags, status and assignee, the users already exported, the call facts."""

    data: Dataset
    facts: CallFacts
    state: TicketState = field(default_factory=TicketState)
    known_customers: set[str] = field(default_factory=set)
    analyses: int = 0

    def day(self, number: int, day: date, rows: dict[str, pl.DataFrame]) -> Iterator[VendorObject]:
        tickets, events = rows["tickets"].to_dicts(), rows["ticket_events"].to_dicts()
        for row in tickets:
            self.state.open(row["ticket_id"], row["category"])
        for key, data, _ in zendesk_pages("users", self.new_users(number, day, tickets), day):
            yield VendorObject(key, data)
        updates = [ticket_update(row, self.state) for row in events]
        gzipped = number % 3 == 2  # some days' event pages stored gzipped, as a fetcher may
        for key, data, count in zendesk_pages("ticket_events", updates, day, gzipped):
            yield VendorObject(key, data, "ticket_events", count)
        snapshots = [ticket_snapshot(r, self.state.tags[r["ticket_id"]]) for r in tickets]
        for key, data, count in zendesk_pages("tickets", snapshots, day):
            yield VendorObject(key, data, "tickets", count)
        calls = rows["calls"].to_dicts()
        yield from firehose_objects(day, calls, self.facts)
        yield from self.analyses_of(calls)

    def new_users(self, number: int, day: date, tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The users export's page of the day: the staff on the first day, then each requester
        on the day of their first ticket (the incremental users export)."""
        users = staff_users(self.data, datetime.combine(day, datetime.min.time())) if number == 0 else []
        for row in tickets:
            if row["customer_id"] not in self.known_customers:
                self.known_customers.add(row["customer_id"])
                users.append(customer_user(row["customer_id"], row["customer_tier"], row["created_at"]))
        return users

    def analyses_of(self, calls: list[dict[str, Any]]) -> Iterator[VendorObject]:
        """The Contact Lens files of the calls first exported in these rows (a redacted twin for
        every fourth)."""
        for row in calls:
            if row["updated_at"] == self.facts.first_update[row["call_id"]]:
                files = lens_objects(row["call_id"], self.facts, redacted_twin=self.analyses % 4 == 0)
                self.analyses += bool(files)
                yield from files


def vendor_objects(data: Dataset) -> Iterator[VendorObject]:
    """Every object of the vendor landing, one export day at a time, then the mapping file."""
    days = list(day_rows(data))
    calls = [rows["calls"] for _, rows in days if not rows["calls"].is_empty()]
    writer = VendorWriter(data, CallFacts.of(pl.concat(calls)) if calls else CallFacts({}, {}, {}))
    for number, (day, rows) in enumerate(days):
        yield from writer.day(number, day, rows)
    yield VendorObject(MAPPING_KEY, mapping_toml(data).encode())


def generate_vendor_exports(
    landing_uri: str,
    config: GeneratorConfig,
    s3: S3Settings | None = None,
    policy: Policy | None = None,
) -> GenerationSummary:
    """Write the centre's Zendesk and Connect exports, the mapping file and plants.json (ids as
    the vendors' ids) under `landing_uri` (folder or s3://)."""
    if config.has_faults:
        raise ValueError("vendor exports have no bad rows or delivery faults: set bad_row_share to 0")
    data = build_dataset(config, policy)
    storage = open_storage(landing_uri, s3)
    summary = GenerationSummary(
        landing_uri, config.start_date, config.end_date, rows=dict.fromkeys(ENTITIES, 0)
    )
    for item in vendor_objects(data):
        storage.write_bytes(item.key, item.data)
        summary.files += 1
        if item.entity:
            summary.rows[item.entity] += item.rows
    summary.bad_rows = {e: {} for e in ENTITIES}
    summary.plants = vendor_ids(planted_ids(data)) | {"faults": {"bad_rows": summary.bad_rows}}
    summary.plants["generator"] = describe_config(config) | {"vendor": VENDOR}
    summary.notes.append(f"Vendor mapping: {landing_uri.rstrip('/')}/{MAPPING_KEY} (vendor_mapping_path)")
    storage.write_bytes(
        PLANTS_KEY, json.dumps(summary.plants, indent=2, sort_keys=True).encode(), "application/json"
    )
    return summary
