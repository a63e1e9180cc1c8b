"""Canonical `calls` schema (input contract v1)."""

from transforms.schemas.base import CONCESSION_TYPES, EntitySchema, Field, OrderRule

CALLS = EntitySchema(
    name="calls",
    key="call_id",
    version_column="updated_at",
    fields=(
        Field("call_id", "string", required=True),
        Field("customer_id", "string", required=True, personal=True),
        Field("updated_at", "timestamp", required=True),
        Field("direction", "enum", required=True, enum=("inbound", "outbound", "callback", "transfer")),
        Field("initiated_at", "timestamp", required=True),
        Field("answered_at", "timestamp"),
        Field("ended_at", "timestamp", required=True),
        Field("agent_id", "string"),
        Field("team_id", "string"),
        Field("queue", "string"),
        Field("category", "string"),
        Field("ticket_id", "string"),
        Field("previous_call_id", "string"),
        Field("hold_seconds", "float", min_value=0),
        Field("hold_count", "int", min_value=0),
        Field("talk_seconds", "float", min_value=0),
        Field("agent_interruptions", "int", min_value=0),
        Field("sentiment_start", "float", min_value=-5, max_value=5),
        Field("sentiment_end", "float", min_value=-5, max_value=5),
        Field("supervisor_requested", "bool"),
        Field("escalated_to", "string"),
        Field("satisfaction_confirmed", "bool"),
        Field(
            "outcome",
            "enum",
            enum=("resolved", "unresolved", "escalated", "callback_promised", "abandoned"),
        ),
        Field("concession_type", "enum", enum=CONCESSION_TYPES),
        Field("concession_amount", "float", min_value=0),
        Field("currency", "string"),
        Field("approved_by", "string"),
    ),
    order_rules=(
        OrderRule("initiated_at", "answered_at"),
        OrderRule("initiated_at", "ended_at"),
        OrderRule("answered_at", "ended_at"),
    ),
)
