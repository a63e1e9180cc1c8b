"""Amazon Connect onto contract v1 `calls`: one row per voice contact record (CTR), joined with
its Contact Lens post-call analysis when one is in the landing.

Field by field in docs/vendors.md. The rules that matter most:
- Connect delivers a record at least once; the row's `updated_at` is `LastUpdateTimestamp` (or
  the analysis file's time when later), so contract de-duplication keeps the newest copy;
- each transfer leg and each callback is its own contact (`PreviousContactId` links them; a
  CALLBACK's previous contact is the inbound call that asked for it);
- `agent_interruptions` counts the AGENT's interruptions only, not Contact Lens' `TotalCount`;
- sentiment at the start and end is the customer's first and last quarter score (-5..+5);
- a record that is not a customer voice leg (chat, a supervisor's MONITOR, a DISCONNECT flow) is
  quarantined as unmappable with its `Channel` or `InitiationMethod`, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from adapters.rows import Rows, Shape, Unmappable, shape_problem
from configs.vendors import ConnectMapping

DIRECTIONS = {
    "INBOUND": "inbound",
    "WEBRTC_API": "inbound",
    "OUTBOUND": "outbound",
    "CALLBACK": "callback",
    "TRANSFER": "transfer",
    "QUEUE_TRANSFER": "transfer",
}
# The legs another contact links to: a transfer (its escalation queue) and a callback (the
# inbound call's `callback_promised`). Only these are kept for linking across objects.
LINKED_METHODS = ("TRANSFER", "QUEUE_TRANSFER", "CALLBACK")
# The fields of a contact record the mapping reads, as the contact record data model types them.
RECORD_SHAPE: Shape = {
    "ContactId": str,
    "InitialContactId": str,
    "PreviousContactId": str,
    "NextContactId": str,
    "Channel": str,
    "InitiationMethod": str,
    "InitiationTimestamp": str,
    "DisconnectTimestamp": str,
    "LastUpdateTimestamp": str,
    "DisconnectReason": str,
    "Attributes": dict,
    "Agent": dict,
    "Queue": dict,
    "CustomerEndpoint": dict,
}
NOT_CALL_LEGS = {
    "MONITOR": "a supervisor monitoring a call is not a call leg",
    "DISCONNECT": "a flow run after the customer hung up is not a call leg",
    "EXTERNAL_OUTBOUND": "a third-party leg is not a call with the customer",
    "AGENT_REPLY": "not a voice call",
    "FLOW": "not a voice call",
}


@dataclass(frozen=True)
class LensSummary:
    """What a Contact Lens analysis file says that the contract uses."""

    analysed_at: str  # the file key's timestamp (ISO, UTC)
    completed: bool
    agent_interruptions: int | None
    sentiment_start: float | None
    sentiment_end: float | None
    talk_seconds: float | None
    categories: frozenset[str]
    skipped_categories: frozenset[str]


def lens_summary(analysis: dict[str, Any], analysed_at: str) -> LensSummary:
    """The contract's view of one analysis file (the transcript is never read)."""
    talk = _get(analysis, "ConversationCharacteristics", "TalkTime", "TotalTimeMillis")
    by_quarter = _get(analysis, "ConversationCharacteristics", "Sentiment", "SentimentByPeriod", "QUARTER")
    quarters = _of_participant(by_quarter, analysis, "CUSTOMER")
    scores = [q.get("Score") for q in quarters or () if isinstance(q, dict) and q.get("Score") is not None]
    interruptions = _get(analysis, "ConversationCharacteristics", "Interruptions")
    by_interrupter = _get(interruptions, "InterruptionsByInterrupter")
    skipped = {
        entity.get("CategoryName")
        for skip in _get(analysis, "JobDetails", "SkippedAnalysis") or ()
        if isinstance(skip, dict)
        for entity in skip.get("SkippedEntities") or ()
        if isinstance(entity, dict)
    }
    return LensSummary(
        analysed_at=analysed_at,
        completed=analysis.get("JobStatus", "COMPLETED") == "COMPLETED",
        # No `Interruptions` at all: not measured (null); an empty one: none (0).
        agent_interruptions=None
        if interruptions is None
        else len(_of_participant(by_interrupter, analysis, "AGENT") or ()),
        sentiment_start=scores[0] if scores else None,
        sentiment_end=scores[-1] if scores else None,
        talk_seconds=talk / 1000 if isinstance(talk, int | float) else None,
        categories=frozenset(str(c) for c in _get(analysis, "Categories", "MatchedCategories") or ()),
        skipped_categories=frozenset(str(c) for c in skipped if c),
    )


def _of_participant(by_participant: Any, analysis: dict[str, Any], role: str) -> Any:
    """A participant's entry of a per-participant map. Files key it by `ParticipantId`, which
    the current format sets to the role (`AGENT`, `CUSTOMER`) and older files to an id that
    `Participants[].ParticipantRole` names."""
    if not isinstance(by_participant, dict):
        return None
    participants = analysis.get("Participants")
    for participant in participants if isinstance(participants, list) else ():
        if isinstance(participant, dict) and participant.get("ParticipantRole") == role:
            found = by_participant.get(str(participant.get("ParticipantId")))
            if found is not None:
                return found
    return by_participant.get(role)


def call_rows(
    records: Iterable[tuple[int, dict[str, Any] | None]],
    mapping: ConnectMapping,
    lens: dict[str, LensSummary],
    legs: dict[str, dict[str, Any]] | None = None,
) -> Rows:
    """One `calls` row per voice contact record of a Firehose object (records in stream order).

    `legs` are the linked legs (transfers, callbacks) of the whole ingest and of the store, by
    ContactId (`VendorLanding.preload_legs`): a contact's next leg is looked up there and in
    this object, whichever Firehose object it came in. The object's own legs are added to it."""
    records = list(records)
    by_id = legs if legs is not None else {}
    by_id.update({r["ContactId"]: leg(r) for _, r in records if is_linked_leg(r)})
    out = Rows("calls")
    for number, record in records:
        where = f"record {number}"
        if record is None:
            out.unreadable(where)
            continue
        problem = shape_problem(record, RECORD_SHAPE) or _not_a_call(record)
        if problem:
            out.unmappable(where + problem[0], problem[1])
            continue
        attributes = record.get("Attributes") or {}
        customer = attributes.get(mapping.customer_id_attribute)
        if not customer:
            out.unmappable(
                f"{where}.Attributes.{mapping.customer_id_attribute}",
                "no customer id (connect.customer_id_attribute)",
            )
            continue
        with out.record(where):
            out.add(
                _call(record, customer, attributes, mapping, lens.get(record.get("ContactId", "")), by_id)
            )
    return out


def well_shaped(record: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    """A record whose fields have the documented types (the others are quarantined unread)."""
    return record is not None and shape_problem(record, RECORD_SHAPE) is None


def is_linked_leg(record: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    """A transfer or callback leg with a contact id: what another contact may link to."""
    return bool(
        well_shaped(record)
        and record.get("InitiationMethod") in LINKED_METHODS
        and isinstance(record.get("ContactId"), str)
    )


def leg(record: dict[str, Any]) -> dict[str, Any]:
    """What linking needs of a leg (kept for the whole ingest: small)."""
    return {
        "InitiationMethod": record.get("InitiationMethod"),
        "Queue": {"Name": (record.get("Queue") or {}).get("Name")},
        "PreviousContactId": record.get("PreviousContactId"),
    }


def _not_a_call(record: dict[str, Any]) -> tuple[str, str] | None:
    if not isinstance(record.get("ContactId"), str):  # e.g. Firehose's error output
        return ".ContactId", "not a contact record (no ContactId)"
    channel = record.get("Channel")
    if str(channel).upper() != "VOICE":  # `VOICE`; the older data model wrote `Voice`
        return ".Channel", f"{channel} is not a voice call"
    method = record.get("InitiationMethod")
    if method in NOT_CALL_LEGS:
        return ".InitiationMethod", f"{method}: {NOT_CALL_LEGS[method]}"
    if method not in DIRECTIONS and method != "API":
        return ".InitiationMethod", f"{method} is not a known initiation method"
    if not record.get("Queue") and not record.get("Agent"):
        if DIRECTIONS.get(method) == "inbound":
            return ".Queue", "an inbound contact that never reached a queue (IVR only) is not a call leg"
        if DIRECTIONS.get(method) == "transfer":
            return ".Queue", "a transfer to an external number (no queue, no agent) is not a call leg"
    return None


def _call(
    record: dict[str, Any],
    customer: str,
    attributes: dict[str, Any],
    mapping: ConnectMapping,
    lens: LensSummary | None,
    by_id: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    agent = record.get("Agent") or {}
    queue = record.get("Queue") or {}
    direction = DIRECTIONS.get(record["InitiationMethod"], mapping.api_direction)
    username = agent.get("Username")
    answered = None
    if agent.get("ConnectedToAgentTimestamp"):  # an agent took part; for an outbound call or a
        # callback, the customer answered when the system connected to them (else: no answer)
        answered = (
            agent["ConnectedToAgentTimestamp"]
            if direction in ("inbound", "transfer")
            else record.get("ConnectedToSystemTimestamp")
        )
    lens = lens if lens and lens.completed else None
    talk = agent.get("AgentInteractionDuration") if mapping.talk_time_basis == "agent_interaction" else None
    if mapping.talk_time_basis == "contact_lens" and lens:
        talk = lens.talk_seconds
    return {
        "call_id": record.get("ContactId"),
        "customer_id": customer,
        "updated_at": _latest(record.get("LastUpdateTimestamp"), lens.analysed_at if lens else None),
        "direction": direction,
        "initiated_at": record.get("InitiationTimestamp"),
        "answered_at": answered,
        "ended_at": record.get("DisconnectTimestamp"),
        "agent_id": mapping.agent_ids.get(username, username) if username else None,
        "team_id": mapping.queue_teams.get(queue.get("Name", "")) or _hierarchy(agent, mapping),
        "queue": queue.get("Name"),
        "category": _attribute(attributes, mapping.category_attribute),
        "ticket_id": _attribute(attributes, mapping.ticket_id_attribute),
        "previous_call_id": record.get("PreviousContactId"),
        "hold_seconds": agent.get("CustomerHoldDuration"),
        "hold_count": agent.get("NumberOfHolds"),
        "talk_seconds": talk,
        "agent_interruptions": lens.agent_interruptions if lens else None,
        "sentiment_start": lens.sentiment_start if lens else None,
        "sentiment_end": lens.sentiment_end if lens else None,
        "supervisor_requested": _supervisor_requested(lens, mapping),
        "escalated_to": _escalated_to(record, by_id, mapping),
        "satisfaction_confirmed": _attribute(attributes, mapping.satisfaction_attribute),
        "outcome": _outcome(record, answered, attributes, by_id, mapping),
        "concession_type": _attribute(attributes, mapping.concession_type_attribute),
        "concession_amount": _attribute(attributes, mapping.concession_amount_attribute),
        "currency": _attribute(attributes, mapping.currency_attribute),
        "approved_by": _attribute(attributes, mapping.approved_by_attribute),
    }


def _attribute(attributes: dict[str, Any], name: str | None) -> Any:
    value = attributes.get(name) if name else None
    return value if value not in ("", None) else None


def _hierarchy(agent: dict[str, Any], mapping: ConnectMapping) -> str | None:
    group = _get(agent, "HierarchyGroups", mapping.hierarchy_level, "GroupName")
    return mapping.hierarchy_teams.get(group, group) if isinstance(group, str) else group


def _latest(record_time: Any, analysed_at: str | None) -> Any:
    """The later of the record's `LastUpdateTimestamp` and the analysis time, compared as
    instants (the record may write fractions of a second or an offset); the record's own text
    when it cannot be read (staging then judges it)."""
    if analysed_at is None:
        return record_time
    try:
        later = datetime.fromisoformat(analysed_at) > datetime.fromisoformat(str(record_time))
    except (ValueError, TypeError):  # unreadable, or without an offset (staging judges it)
        return record_time
    return analysed_at if later else record_time


def _supervisor_requested(lens: LensSummary | None, mapping: ConnectMapping) -> bool | None:
    """True when a supervisor-request rule matched; false only when the analysis completed and
    none of those rules was skipped; unknown (null) without an analysis or a rule."""
    wanted = set(mapping.supervisor_request_categories)
    if lens is None or not wanted:
        return None
    if wanted & lens.categories:
        return True
    return None if wanted & lens.skipped_categories else False


def _escalated_to(
    record: dict[str, Any], by_id: dict[str, dict[str, Any]], mapping: ConnectMapping
) -> str | None:
    """The mapped attribute if set; else the escalation queue the contact was transferred to,
    when its next leg is known: in the same ingest (any object: Connect writes each leg's record
    as it ends, often into a later Firehose object than the contact's) or in the store."""
    attribute = _attribute(record.get("Attributes") or {}, mapping.escalated_to_attribute)
    if attribute:
        return str(attribute)
    following = by_id.get(record.get("NextContactId") or "")
    if following is None or following.get("InitiationMethod") not in ("TRANSFER", "QUEUE_TRANSFER"):
        return None
    queue = (following.get("Queue") or {}).get("Name")
    return queue if queue in mapping.escalation_queues else None


def _outcome(
    record: dict[str, Any],
    answered: str | None,
    attributes: dict[str, Any],
    by_id: dict[str, dict[str, Any]],
    mapping: ConnectMapping,
) -> str | None:
    """The mapped disposition attribute when the contact has one; else, for an unanswered leg,
    `callback_promised` when its next leg is the callback it asked for, and `abandoned` for an
    inbound or transfer leg."""
    value = _attribute(attributes, mapping.outcome_attribute)
    if value is not None and str(value).strip():  # spaces only: no disposition, as the contract reads it
        outcome = mapping.outcome(str(value))
        if outcome is None:  # never a personal value in the reason: the attribute is free text
            raise Unmappable(
                f".Attributes.{mapping.outcome_attribute}",
                "not a call outcome (resolved, unresolved, escalated, callback_promised, abandoned) "
                "and not a key of connect.outcome_map",
            )
        return outcome
    following = by_id.get(record.get("NextContactId") or "")
    if answered is None and following is not None and following.get("InitiationMethod") == "CALLBACK":
        return "callback_promised"
    if answered is None and DIRECTIONS.get(record.get("InitiationMethod", "")) in ("inbound", "transfer"):
        return "abandoned"
    return None


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
