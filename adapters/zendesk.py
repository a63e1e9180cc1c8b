"""Zendesk incremental exports onto contract v1: ticket pages -> `tickets`, ticket-event pages
(`include=comment_events`) -> `ticket_events`, with the users export for who acted.

Field by field in docs/vendors.md. The rules that matter most:
- a ticket page holds one full snapshot per change; contract de-duplication keeps the newest
  `updated_at`, so a re-polled page is duplicates and an older snapshot is superseded;
- `hold` is `on_hold`; a `deleted` ticket has no contract status and is quarantined;
- Zendesk's "follow-up ticket" (`via.source.rel = follow_up`) is a new customer contact, never
  an agent follow-up event; the agent follow-up comes from a tag the mapping names;
- events come from the event export's child events, never from diffing ticket snapshots;
- a child event that carries nothing the contract models (a priority change, a notification)
  is not a row, as a blank line is not a row of a contract file.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from adapters.rows import Rows, Shape, first, json_type, shape_problem
from configs.vendors import DEFAULT_STATUSES, ZendeskMapping

CUSTOMER, AGENT, SUPERVISOR, SYSTEM = "customer", "agent", "supervisor", "system"
# A comment, typed or a Talk call logged on the ticket (a voice comment, with its author and
# `public` flag like any comment): both are contract `comment` events.
COMMENT_EVENTS = ("Comment", "VoiceComment")
# Why an event by someone the users export does not list is quarantined (a later users page
# may list them: the ingest then reads the event object again).
UNKNOWN_USER = "the user is not in the users export (zendesk.users_prefix)"

# The fields the mapping reads, as Zendesk's API documents their JSON types (ids: numbers; an
# ELT tool may have written them as text).
_ID = (int, float, str)  # a float: a tool that wrote a nullable integer column as doubles
TICKET_SHAPE: Shape = {
    "id": _ID,
    "status": str,
    "requester_id": _ID,
    "assignee_id": _ID,
    "group_id": _ID,
    "created_at": str,
    "updated_at": str,
    "priority": str,
    "subject": str,
    "via": dict,
    "tags": list,
    "custom_fields": list,
    "satisfaction_rating": (dict, str),
}
UPDATE_SHAPE: Shape = {
    "id": _ID,
    "ticket_id": _ID,
    "updater_id": _ID,
    "created_at": str,
    "via": (dict, str),
    "child_events": list,
}
CHILD_SHAPE: Shape = {
    "id": _ID,
    "author_id": _ID,
    "assignee_id": _ID,
    "group_id": _ID,
    "created_at": str,
    "tags": list,
    "added_tags": list,
    "custom_ticket_fields": dict,
}


@dataclass(frozen=True)
class User:
    role: str  # the contract actor role
    tags: tuple[str, ...] = ()


@dataclass
class Directory:
    """The users export, newest snapshot per user: who is a customer, agent or supervisor."""

    users: dict[int, User] = field(default_factory=dict)
    _seen: dict[int, str] = field(default_factory=dict)

    def add_page(self, page: dict[str, Any], mapping: ZendeskMapping) -> None:
        for user in page.get("users") or []:
            if not isinstance(user, dict) or not isinstance(user.get("id"), int):
                continue
            stamp = str(user.get("updated_at") or "")
            if stamp < self._seen.get(user["id"], ""):
                continue
            self._seen[user["id"]] = stamp
            tags = user.get("tags")
            self.users[user["id"]] = User(
                _role(user, mapping), tuple(map(str, tags)) if isinstance(tags, list) else ()
            )

    def role(self, user_id: Any, mapping: ZendeskMapping) -> str | None:
        if user_id in mapping.system_user_ids:
            return SYSTEM
        user = self.users.get(user_id) if isinstance(user_id, int) else None
        return user.role if user else None


def _role(user: dict[str, Any], mapping: ZendeskMapping) -> str:
    if user.get("role") not in ("agent", "admin"):
        return CUSTOMER
    if (
        user["id"] in mapping.supervisor_user_ids
        or user.get("custom_role_id") in mapping.supervisor_custom_role_ids
    ):
        return SUPERVISOR
    return AGENT


# --- tickets ----------------------------------------------------------------------------------


def ticket_rows(page: dict[str, Any], mapping: ZendeskMapping, directory: Directory) -> Rows:
    """One `tickets` row per ticket snapshot of an incremental ticket export page."""
    out = Rows("tickets")
    for index, ticket in enumerate(_records(page, "tickets", out)):
        where = f"tickets[{index}]"
        if not isinstance(ticket, dict):
            out.unreadable(where)
            continue
        status, problem = _status(ticket.get("status"))
        problem_at = shape_problem(ticket, TICKET_SHAPE) or (problem and (".status", problem))
        if problem_at:
            out.unmappable(where + problem_at[0], problem_at[1])
            continue
        with out.record(where):
            _ticket_row(ticket, where, status, mapping, directory, out)
    return out


def _records(page: dict[str, Any], name: str, out: Rows) -> list[Any]:
    """The page's array of records. A page whose array is something else, or that has none (an
    API error body saved as a page, another export's page under this prefix), is one unmappable
    row: only an empty array is a page of no records."""
    records = page.get(name)
    if isinstance(records, list):
        return records
    if records is None:
        keys = ", ".join(sorted(str(k)[:40] for k in page)[:6]) or "none"
        out.unmappable(name, f"the page has no {name} array: not a Zendesk export page (its keys: {keys})")
    else:
        out.unmappable(name, "is not an array of records")
    return []


def _ticket_row(
    ticket: dict[str, Any],
    where: str,
    status: str | None,
    mapping: ZendeskMapping,
    directory: Directory,
    out: Rows,
) -> None:
    category = _category(ticket, mapping)
    if isinstance(category, (list, dict)):
        out.unmappable(
            f"{where}.{_category_source(mapping)}",
            "holds several values (a multi-select field): a ticket has one category",
        )
        return
    if category is None:
        out.unmappable(
            f"{where}.{_category_source(mapping)}",
            "no category (set zendesk.category.default to keep such tickets)",
        )
        return
    requester = ticket.get("requester_id")
    requester_tags = directory.users[requester].tags if requester in directory.users else ()
    out.add(
        {
            "ticket_id": _id(ticket.get("id"), mapping),
            "customer_id": requester,
            "created_at": ticket.get("created_at"),
            "updated_at": ticket.get("updated_at"),
            "status": status,
            "channel": mapping.channel((ticket.get("via") or {}).get("channel")),
            "category": category,
            "priority": ticket.get("priority"),
            "assignee_id": ticket.get("assignee_id"),
            "team_id": ticket.get("group_id"),
            "customer_tier": _tag_match(requester_tags, mapping.tier_tag_pattern),
            "csat_score": _csat(ticket.get("satisfaction_rating"), mapping),
            "subject": ticket.get("subject"),
        }
    )


def _status(value: Any) -> tuple[str | None, str | None]:
    """The contract status of a Zendesk status (`hold` is `on_hold`), or why there is none:
    `deleted`, and anything Zendesk does not write. The caller quarantines the record with the
    reason (and builds its place only then: a day has ~500,000 child events)."""
    if value == "deleted":
        return None, "a deleted ticket has no contract status"
    status = DEFAULT_STATUSES.get(value) if isinstance(value, str) else None
    if status is None:
        return None, f"not a Zendesk status ({', '.join(DEFAULT_STATUSES)})"
    return status, None


def _id(value: Any, mapping: ZendeskMapping) -> str | None:
    return None if value is None else f"{mapping.id_prefix}{value}"


def _category(ticket: dict[str, Any], mapping: ZendeskMapping) -> str | None:
    rule = mapping.category
    value = None
    if rule.custom_field_id is not None:
        value = _custom_field(ticket.get("custom_fields"), rule.custom_field_id)
    if value is None and rule.tag_pattern:
        value = _tag_match(ticket.get("tags") or (), rule.tag_pattern)
    return value if value not in (None, "") else rule.default


def _category_source(mapping: ZendeskMapping) -> str:
    rule = mapping.category
    if rule.custom_field_id is not None:
        return f"custom_fields[id={rule.custom_field_id}]"
    return "tags" if rule.tag_pattern else "category"


def _custom_field(fields: Any, field_id: int) -> Any:
    for item in fields or ():
        if isinstance(item, dict) and item.get("id") == field_id:
            return item.get("value")
    return None


def _tag_match(tags: Any, pattern: str | None) -> str | None:
    """The first tag matching `pattern` (its first group when it has one)."""
    if not pattern or not tags:
        return None
    compiled = _compiled(pattern)
    for tag in tags:
        found = compiled.fullmatch(tag if type(tag) is str else str(tag))
        if found:
            return found.group(1) if compiled.groups else found.group(0)
    return None


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """A mapping's tag pattern, compiled once (it is matched against every tag a change adds)."""
    return re.compile(pattern)


def _csat(rating: Any, mapping: ZendeskMapping) -> int | None:
    score = rating.get("score") if isinstance(rating, dict) else rating
    return {"good": mapping.csat_good, "bad": mapping.csat_bad}.get(str(score))


# --- ticket events ----------------------------------------------------------------------------


def event_rows(page: dict[str, Any], mapping: ZendeskMapping, directory: Directory) -> Rows:
    """`ticket_events` rows from an incremental ticket-event export page: one per child event
    that is a comment, a status change, an assignment, or what the mapping names (an escalation
    group or tag, an escalation-request tag, a follow-up tag, a concession field)."""
    out = Rows("ticket_events")
    if "audits" in page and "ticket_events" not in page:  # the Ticket Audits API: `events`
        updates, name = [audit_update(a) for a in _records(page, "audits", out)], "audits"
    else:
        updates, name = _records(page, "ticket_events", out), "ticket_events"
    children = "events" if name == "audits" else "child_events"
    for index, update in enumerate(updates):
        where = f"{name}[{index}]"
        if not isinstance(update, dict):
            out.unreadable(where)
            continue
        problem = _update_problem(update, children)
        if problem:
            out.unmappable(where + problem[0], problem[1])
            continue
        with out.record(where):
            _Update(update, where, mapping, directory, out, children).emit()
    return out


def _update_problem(update: dict[str, Any], name: str = "child_events") -> tuple[str, str] | None:
    """The first field of the update or of one of its child events with a JSON type the
    mapping cannot use (the whole update is then one unmappable row; `name`: what the file
    calls the child events, `events` in a Ticket Audits API page)."""
    problem = shape_problem(update, UPDATE_SHAPE)
    if problem is not None:
        return (f".{name}", problem[1]) if problem[0] == ".child_events" else problem
    for position, child in enumerate(update.get("child_events") or ()):
        if not isinstance(child, dict):
            return f".{name}[{position}]", f"is {json_type(child)}, not an object as the vendor writes it"
        found = shape_problem(child, CHILD_SHAPE)
        if found:
            return f".{name}[{position}]{found[0]}", found[1]
    return None


@dataclass
class _Update:
    """One ticket update (an audit) and its child events."""

    update: dict[str, Any]
    where: str
    mapping: ZendeskMapping
    directory: Directory
    out: Rows
    children: str = "child_events"  # what the file calls them (`events`: Ticket Audits API)

    def emit(self) -> None:
        """The update's rows; its child events are objects (`_update_problem` refused it else)."""
        children: list[dict[str, Any]] = self.update.get("child_events") or []
        group = first(c.get("group_id") for c in children if "group_id" in c)
        fields: dict[str, Any] = {}
        for child in children:
            fields.update(child.get("custom_ticket_fields") or {})
        for position, child in enumerate(children):
            kind = child.get("event_type") or child.get("type")
            if kind in COMMENT_EVENTS:
                self._row(
                    child, position, "comment", actor_id=child.get("author_id"), public=child.get("public")
                )
            elif kind in ("Create", "Change"):
                inherited = kind == "Create" and is_follow_up_ticket(self.update.get("via"))
                self._change(child, position, group, fields, tags=not inherited)

    def _place(self, position: int) -> str:
        """Where a child event is, for a quarantine reason (built only when one is written)."""
        return f"{self.where}.{self.children}[{position}]"

    def _change(
        self, child: dict[str, Any], position: int, group: Any, fields: dict[str, Any], *, tags: bool = True
    ) -> None:
        """The rows one Create/Change child gives. A child may change several fields (a ticket's
        Create sets status, assignee and group at once): when it gives more than one row, each
        row's id is `<child id>:<event_type>`, so event ids stay unique, and the same for every
        delivery of the child. `tags=False`: the child's tags were not added by anyone on this
        ticket (a follow-up ticket's Create carries its parent's)."""
        rows: list[tuple[str, dict[str, Any]]] = []
        if "status" in child:
            status, problem = _status(child["status"])
            if problem is not None:
                self.out.unmappable(f"{self._place(position)}.status", problem)
            else:
                rows.append(("status_change", {"new_status": status}))
        if child.get("assignee_id") is not None:
            rows.append(("assignment", {"assignee_id": child["assignee_id"], "team_id": group}))
        if "group_id" in child:
            level = self.mapping.escalation.group_levels.get(str(child["group_id"]))
            if level is not None:
                rows.append(("escalation", {"escalation_level": level, "team_id": child["group_id"]}))
        if tags:
            rows += self._tag_rows(_added_tags(child))
        if "custom_ticket_fields" in child:
            concession = self._concession(child, position, fields)
            if concession is not None:
                rows.append(("concession", concession))
        for event_type, values in rows:
            self._row(child, position, event_type, f":{event_type}" if len(rows) > 1 else "", **values)

    def _tag_rows(self, added: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """Escalation, escalation-request and follow-up rows from the tags a change added."""
        rows: list[tuple[str, dict[str, Any]]] = []
        escalation = self.mapping.escalation
        if escalation.tag_pattern:
            matched = _tag_match(added, escalation.tag_pattern)
            if matched is not None:  # the pattern's group, when it is a number, is the level
                level = int(matched) if matched.isdigit() and int(matched) >= 1 else escalation.tag_level
                rows.append(("escalation", {"escalation_level": level}))
        for event_type, rule in (
            ("escalation_request", self.mapping.escalation_request),
            ("follow_up", self.mapping.follow_up),
        ):
            if rule is not None and _tag_match(added, rule.tag_pattern) is not None:
                rows.append((event_type, {}))
        return rows

    def _concession(
        self, child: dict[str, Any], position: int, fields: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The concession a change of the amount field makes (None: no concession)."""
        rule = self.mapping.concession
        changed = child.get("custom_ticket_fields") or {}
        if rule is None or str(rule.amount_field_id) not in changed:
            return None
        amount = changed[str(rule.amount_field_id)]
        if amount in (None, ""):
            return None  # the field cleared: no concession
        try:
            Decimal(str(amount))
        except InvalidOperation:
            self.out.unmappable(
                f"{self._place(position)}.custom_ticket_fields.{rule.amount_field_id}",
                "the amount is not a number",
            )
            return None

        def field(field_id: int | None) -> Any:
            return fields.get(str(field_id)) if field_id else None

        kind = field(rule.type_field_id)
        if not kind and rule.default_type is None:  # say which Zendesk field, not the contract's
            where = (
                f"custom_ticket_fields.{rule.type_field_id}" if rule.type_field_id else "custom_ticket_fields"
            )
            self.out.unmappable(
                f"{self._place(position)}.{where}",
                "the concession's type is not set in the update that sets its amount (set both in one "
                "update, e.g. with a macro, or set zendesk.concession.default_type)",
            )
            return None
        return {
            "concession_type": rule.type_map.get(str(kind), kind) if kind else rule.default_type,
            "concession_amount": amount,
            "currency": field(rule.currency_field_id) or rule.default_currency,
            "approved_by": field(rule.approved_by_field_id),
            "reason_code": field(rule.reason_code_field_id),
        }

    def _row(
        self, child: dict[str, Any], position: int, event_type: str, suffix: str = "", **values: Any
    ) -> None:
        actor = values.pop("actor_id", None) or self.update.get("updater_id")
        role = self.directory.role(actor, self.mapping)
        if role is None:
            field_name = "author_id" if event_type == "comment" else "updater_id"
            self.out.unmappable(f"{self._place(position)}.{field_name}", UNKNOWN_USER)
            return
        self.out.add(
            {
                "event_id": _id(f"{child.get('id')}{suffix}", self.mapping),
                "ticket_id": _id(self.update.get("ticket_id"), self.mapping),
                "occurred_at": child.get("created_at") or self.update.get("created_at"),
                "event_type": event_type,
                "actor_role": role,
                "actor_id": None if role == SYSTEM else actor,
                **values,
            }
        )


def is_follow_up_ticket(via: Any) -> bool:
    """Whether an update's `via` says it created a follow-up ticket (a new ticket after a closed
    one), which Zendesk creates with its parent's tags: `source.rel = follow_up` or the via type
    `closed_ticket` (id 27), or the export's text form of that type ("Closed ticket")."""
    if isinstance(via, str):
        return via.strip().lower().replace("_", " ") == "closed ticket"
    if not isinstance(via, dict):
        return False
    source = via.get("source")
    rel = source.get("rel") if isinstance(source, dict) else None
    return rel == "follow_up" or via.get("channel") in ("closed_ticket", 27)


def audit_update(audit: Any) -> Any:
    """A Ticket Audits API audit in the incremental event export's shape: each Create/Change
    event's `field_name` becomes its key (a custom field's id goes under `custom_ticket_fields`),
    the audit's `author_id` its updater."""
    if not isinstance(audit, dict):
        return audit
    events = audit.get("events")
    if events is not None and not isinstance(events, list):
        return {**audit, "child_events": events}  # the update's shape check names the field
    children = []
    for event in events or ():
        if not isinstance(event, dict) or event.get("type") not in ("Create", "Change"):
            children.append(event)
            continue
        name, value = str(event.get("field_name")), event.get("value")
        child = {
            "id": event.get("id"),
            "event_type": event["type"],
            "previous_value": event.get("previous_value"),
        }
        child.update({"custom_ticket_fields": {name: value}} if name.isdigit() else {name: value})
        children.append(child)
    return {
        "id": audit.get("id"),
        "ticket_id": audit.get("ticket_id"),
        "created_at": audit.get("created_at"),
        "updater_id": audit.get("author_id"),
        "via": audit.get("via"),
        "child_events": children,
    }


def _added_tags(child: dict[str, Any]) -> list[str]:
    """Tags a change added: `added_tags` when the child has it (an empty list is a change that
    only removed tags), else `tags` less `previous_value`."""
    if "added_tags" in child:
        added = child["added_tags"]
        return [str(t) for t in added] if isinstance(added, list) else []
    tags = child.get("tags")
    if not isinstance(tags, list):
        return []
    previous = child.get("previous_value")
    before = set(previous) if isinstance(previous, list) else set()
    return [str(t) for t in tags if t not in before]
