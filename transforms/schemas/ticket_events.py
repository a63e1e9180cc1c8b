"""Canonical `ticket_events` schema (input contract v1)."""

from transforms.schemas.base import (
    CONCESSION_TYPES,
    STATUSES,
    ConditionalRequired,
    EntitySchema,
    Field,
)

EVENT_TYPES = (
    "comment",
    "status_change",
    "assignment",
    "escalation_request",
    "escalation",
    "concession",
    "follow_up",
)

TICKET_EVENTS = EntitySchema(
    name="ticket_events",
    key="event_id",
    version_column=None,  # append-only: one row per event_id, exact re-deliveries dropped
    fields=(
        Field("event_id", "string", required=True),
        Field("ticket_id", "string", required=True),
        Field("occurred_at", "timestamp", required=True),
        Field("event_type", "enum", required=True, enum=EVENT_TYPES),
        Field("actor_role", "enum", required=True, enum=("agent", "supervisor", "customer", "system")),
        Field("actor_id", "string", personal=True),  # the customer's id on customer events
        Field("public", "bool"),
        Field("new_status", "enum", enum=STATUSES),
        Field("assignee_id", "string"),
        Field("team_id", "string"),
        Field("escalation_level", "int", min_value=1),
        Field("concession_type", "enum", enum=CONCESSION_TYPES),
        Field("concession_amount", "float", min_value=0),
        Field("currency", "string"),
        Field("approved_by", "string"),
        Field("reason_code", "string"),
        Field("body", "string", personal=True, free_text=True),
    ),
    conditional=(
        ConditionalRequired("new_status", "event_type", "status_change"),
        ConditionalRequired("assignee_id", "event_type", "assignment"),
        ConditionalRequired("escalation_level", "event_type", "escalation"),
        ConditionalRequired("concession_type", "event_type", "concession"),
        ConditionalRequired("concession_amount", "event_type", "concession"),
        ConditionalRequired("currency", "event_type", "concession"),
    ),
)
