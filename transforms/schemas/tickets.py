"""Canonical `tickets` schema (input contract v1)."""

from transforms.schemas.base import STATUSES, EntitySchema, Field, OrderRule

TICKETS = EntitySchema(
    name="tickets",
    key="ticket_id",
    version_column="updated_at",
    fields=(
        Field("ticket_id", "string", required=True),
        Field("customer_id", "string", required=True, personal=True),
        Field("created_at", "timestamp", required=True),
        Field("updated_at", "timestamp", required=True),
        Field("status", "enum", required=True, enum=STATUSES),
        Field("solved_at", "timestamp"),
        Field(
            "channel",
            "enum",
            required=True,
            enum=("email", "chat", "web", "phone", "social", "other"),
        ),
        Field("category", "string", required=True),
        Field("priority", "enum", enum=("low", "normal", "high", "urgent")),  # null -> normal
        Field("assignee_id", "string"),
        Field("team_id", "string"),
        Field("customer_tier", "string"),
        Field("csat_score", "int", min_value=1, max_value=5),
        Field("subject", "string", personal=True, free_text=True),
    ),
    order_rules=(
        OrderRule("created_at", "updated_at"),
        OrderRule("created_at", "solved_at"),
    ),
)
