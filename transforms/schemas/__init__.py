"""Canonical schemas, one module per entity of the input contract."""

from transforms.schemas.base import EntitySchema, Field
from transforms.schemas.calls import CALLS
from transforms.schemas.ticket_events import TICKET_EVENTS
from transforms.schemas.tickets import TICKETS

ENTITIES: dict[str, EntitySchema] = {s.name: s for s in (TICKETS, TICKET_EVENTS, CALLS)}

__all__ = ["CALLS", "ENTITIES", "TICKETS", "TICKET_EVENTS", "EntitySchema", "Field"]
