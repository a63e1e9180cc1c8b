"""The vendor mapping: how Zendesk and Amazon Connect exports become contract v1 rows.

No helpdesk writes contract v1. With `landing_vendor = "zendesk+connect"` the pipeline reads the
objects those vendors write (docs/vendors.md) and this file says the choices that depend on how an
organisation uses the tools: which custom field holds the category, which group means an
escalation, which Connect contact attribute holds the customer id. One documented example:
configs/vendors/zendesk+connect.example.toml. Loaded and checked before any run (`load_mapping`):
an unknown key, a wrong type or an impossible choice stops the run with the key's name.

Every choice is a pure function of a vendor record and this file, never of when the record was
read, so a re-polled page or a re-delivered contact record maps to the same row (a duplicate, not
a conflict).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

VENDORS = ("contract", "zendesk+connect")

CONTRACT_CHANNELS = ("email", "chat", "web", "phone", "social", "other")
CONTRACT_STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
CONCESSION_TYPES = ("credit", "refund", "free_service", "replacement", "discount", "fee_waiver")
OUTCOMES = ("resolved", "unresolved", "escalated", "callback_promised", "abandoned")

# Zendesk `via.channel` values onto contract channels, from the via types table
# (developer.zendesk.com, "Via types reference"): the family each via type belongs to. A value in
# `channel_map` wins; a value in neither is `other` (`api`, `rule`, `merge`, ...).
DEFAULT_CHANNELS = {
    **dict.fromkeys(("email", "mail", "closed_ticket"), "email"),
    **dict.fromkeys(
        (
            "web",
            "web_form",
            "web_widget",
            "help_center",
            "helpcenter",
            "dropbox",
            "batch",
            "mobile",
            "mobile_sdk",
        ),
        "web",
    ),
    **dict.fromkeys(("chat", "native_messaging", "messaging"), "chat"),
    **dict.fromkeys(
        (
            "voice",
            "phone",
            "voicemail",
            "phone_call_inbound",
            "phone_call_outbound",
            "api_voicemail",
            "api_phone_call_inbound",
            "api_phone_call_outbound",
        ),
        "phone",
    ),
    **dict.fromkeys(
        (
            "twitter",
            "twitter_dm",
            "twitter_favorite",
            "facebook",
            "facebook_post",
            "facebook_message",
            "instagram_dm",
            "whatsapp",
            "line",
            "wechat",
            "sms",
            "text_message",
        ),
        "social",
    ),
}
# Zendesk writes `via.channel` as a via type or as its via id (an integer): the ids of the via
# types table that `DEFAULT_CHANNELS` knows (the Talk Partner Edition's 44-46 included).
VIA_IDS = {
    0: "web_form",
    4: "mail",
    5: "web_service",
    8: "rule",
    17: "dropbox",
    19: "merge",
    20: "batch",
    23: "twitter_favorite",
    26: "twitter_dm",
    27: "closed_ticket",
    29: "chat",
    30: "twitter",
    31: "ticket_sharing",
    33: "voicemail",
    34: "phone_call_inbound",
    35: "phone_call_outbound",
    37: "text_message",
    38: "facebook_post",
    41: "facebook_message",
    44: "api_voicemail",
    45: "api_phone_call_inbound",
    46: "api_phone_call_outbound",
}
# Zendesk statuses onto contract statuses; `deleted` has none (the ticket is quarantined).
DEFAULT_STATUSES = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "on_hold",
    "solved": "solved",
    "closed": "closed",
}


def _mapped_onto(value: dict[str, str], allowed: tuple[str, ...], what: str) -> dict[str, str]:
    """A map's values must be contract values: the wrong ones named, with the choices."""
    bad = sorted(v for v in value.values() if v not in allowed)
    if bad:
        raise ValueError(f"not {what}: {', '.join(bad)} (choose from {', '.join(allowed)})")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _compiles(value: str) -> str:
    """A pattern that does not compile is refused at load, naming its key, not on the first tag."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from exc
    return value


TagPattern = Annotated[str, AfterValidator(_compiles)]


class TagRule(_Strict):
    """A regular expression matched against each tag (the whole tag)."""

    tag_pattern: TagPattern

    def matches(self, tag: str) -> bool:
        return re.fullmatch(self.tag_pattern, tag) is not None


class ZendeskCategory(_Strict):
    """Where a ticket's category comes from: a custom field (drop-down value) or the first tag
    matching a pattern (the pattern's first group if it has one, else the tag)."""

    custom_field_id: int | None = None
    tag_pattern: TagPattern | None = None
    # A ticket with neither gets this category; None: the ticket is quarantined (category is
    # required by the contract), naming the field.
    default: str | None = None


class ZendeskEscalation(_Strict):
    """A change of group into one of these groups is an escalation of that level (>= 1)."""

    group_levels: dict[str, Annotated[int, Field(ge=1)]] = {}
    # Or a tag added matching this; its first group, when it is a number >= 1, is the level
    # (`escalated_t(\d)`), else `tag_level`.
    tag_pattern: TagPattern | None = None
    tag_level: Annotated[int, Field(ge=1)] = 1


class ZendeskConcession(_Strict):
    """A concession is a change of `amount_field` to a number (a text that is not one is
    quarantined); its type, currency, approver and reason come from their own fields as set in
    the same update, else the defaults (docs/vendors.md: an event page holds changes, not the
    ticket's other fields)."""

    amount_field_id: int
    type_field_id: int | None = None
    currency_field_id: int | None = None
    approved_by_field_id: int | None = None
    reason_code_field_id: int | None = None
    default_type: (
        Literal["credit", "refund", "free_service", "replacement", "discount", "fee_waiver"] | None
    ) = None
    default_currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    # Drop-down values (tags) onto contract concession types, when they differ.
    type_map: dict[str, str] = {}

    @field_validator("type_map")
    @classmethod
    def _types(cls, value: dict[str, str]) -> dict[str, str]:
        return _mapped_onto(value, CONCESSION_TYPES, "concession types")


class ZendeskMapping(_Strict):
    """Zendesk incremental exports as landed: JSON pages of `tickets`, `ticket_events` (with
    `include=comment_events`) and `users`, under these prefixes, with the export day in the key."""

    tickets_prefix: str = "zendesk/tickets/"
    ticket_events_prefix: str = "zendesk/ticket_events/"
    users_prefix: str = "zendesk/users/"
    id_prefix: str = ""  # prepended to ticket and event ids (e.g. "zd-") when several sources land
    category: ZendeskCategory = ZendeskCategory(default="uncategorised")
    tier_tag_pattern: TagPattern | None = None  # on the requester's tags (users export)
    channel_map: dict[str, str] = {}
    # Legacy CSAT is good/bad: these scores, or None to leave csat_score empty.
    csat_good: Annotated[int, Field(ge=1, le=5)] | None = None
    csat_bad: Annotated[int, Field(ge=1, le=5)] | None = None
    supervisor_user_ids: list[int] = []
    supervisor_custom_role_ids: list[int] = []
    system_user_ids: list[int] = [-1]
    escalation: ZendeskEscalation = ZendeskEscalation()
    escalation_request: TagRule | None = None
    follow_up: TagRule | None = None
    concession: ZendeskConcession | None = None

    @field_validator("channel_map")
    @classmethod
    def _channels(cls, value: dict[str, str]) -> dict[str, str]:
        return _mapped_onto(value, CONTRACT_CHANNELS, "contract channels")

    @model_validator(mode="after")
    def _csat_both_or_neither(self) -> ZendeskMapping:
        """One score alone would count every rating as that score (100 % good, say)."""
        if (self.csat_good is None) != (self.csat_bad is None):
            raise ValueError("csat_good and csat_bad go together: set both, or neither to leave CSAT empty")
        return self

    def channel(self, via_channel: Any) -> str:
        """The contract channel of a `via.channel`: a via type, or a via id (an integer, or its
        digits as text). `channel_map` may name either (`"48" = "web"`)."""
        value = (
            "" if via_channel is None or isinstance(via_channel, bool) else str(via_channel).strip().lower()
        )
        mapped = self.channel_map.get(value)
        if mapped:
            return mapped
        if value.isdigit():
            value = VIA_IDS.get(int(value), value)
        return self.channel_map.get(value) or DEFAULT_CHANNELS.get(value, "other")


class ConnectMapping(_Strict):
    """Amazon Connect: contact records as Kinesis Data Firehose delivers them, and Contact Lens
    post-call analysis files, under these prefixes."""

    ctr_prefix: str = "connect/ctr/"
    contact_lens_prefix: str = "connect/Analysis/Voice/"
    # Whether Contact Lens post-call analytics writes its files under contact_lens_prefix. False:
    # the metrics built on it (CONTACT_LENS_METRICS) are withheld rather than published as 0.
    contact_lens: bool = True
    customer_id_attribute: str = "customer_id"
    category_attribute: str | None = "category"
    ticket_id_attribute: str | None = None
    outcome_attribute: str | None = None
    outcome_map: dict[str, str] = {}
    concession_type_attribute: str | None = None
    concession_amount_attribute: str | None = None
    currency_attribute: str | None = None
    approved_by_attribute: str | None = None
    # Set by the contact flow that transfers to a supervisor (the most reliable source); else a
    # transfer into one of `escalation_queues`, when both legs are read in the same ingest.
    escalated_to_attribute: str | None = None
    satisfaction_attribute: str | None = None  # "true"/"false" from a post-call survey
    # Contact Lens rule names (MatchedCategories) meaning the customer asked for a supervisor.
    supervisor_request_categories: list[str] = []
    # A transfer leg into one of these queues is an escalation of the leg it came from.
    escalation_queues: list[str] = []
    # `agent_interaction`: Agent.AgentInteractionDuration (no hold, no after-call work);
    # `contact_lens`: speech only (TalkTime), null without an analysis file.
    talk_time_basis: Literal["agent_interaction", "contact_lens"] = "agent_interaction"
    # Connect username -> the person's id in Zendesk (one person, one id across both systems);
    # a username not listed is used as it is.
    agent_ids: dict[str, str] = {}
    queue_teams: dict[str, str] = {}  # queue name -> team id; else the agent hierarchy level below
    hierarchy_teams: dict[str, str] = {}  # hierarchy group name -> team id (else the name itself)
    hierarchy_level: Literal["Level1", "Level2", "Level3", "Level4", "Level5"] = "Level1"
    api_direction: Literal["inbound", "outbound"] = "outbound"
    # Contact Lens day folders (up to the newest export day) checked each ingest for analyses
    # that landed after their contact record was ingested (that record is then read again).
    lens_lookback_days: Annotated[int, Field(ge=0, le=31)] = 2

    @field_validator("outcome_map")
    @classmethod
    def _outcomes(cls, value: dict[str, str]) -> dict[str, str]:
        return _mapped_onto(value, OUTCOMES, "call outcomes")

    def outcome(self, disposition: str) -> str | None:
        """The contract outcome of a disposition attribute value: `outcome_map`'s (its key as
        written, else ignoring case), else the value itself when it is a contract outcome
        (ignoring case, as the contract reads enums); None: neither."""
        if disposition in self.outcome_map:
            return self.outcome_map[disposition]
        folded = disposition.strip().casefold()
        for key, outcome in self.outcome_map.items():
            if key.strip().casefold() == folded:
                return outcome
        return folded if folded in OUTCOMES else None


# Scorecard metrics computed only from Contact Lens' analysis (sentiment, agent interruptions, and
# the talk time counted beside them): withheld when the instance has no Contact Lens, or when no
# analysis was joined to any answered call of the day (flows/daily.withheld_metrics).
CONTACT_LENS_METRICS = (
    "de_escalation",
    "lost_control",
    "argumentative",
    "talk_seconds",
    "agent_interruptions",
    "interruptions_per_10_talk_minutes",
)


class VendorMapping(_Strict):
    """The whole mapping file: one table per vendor."""

    zendesk: ZendeskMapping = ZendeskMapping()
    connect: ConnectMapping = ConnectMapping()

    def withheld(self, *, calls: bool = True) -> dict[str, str]:
        """Scorecard metrics this mapping cannot support, and why: they are published as null
        with the reason (`withheld_metrics`), not as zero. A metric with one of several sources
        mapped (concessions from Zendesk only) is computed from what is mapped. `calls=False`: a
        day with no answered call, whose escalation rates the ticket side alone decides (a
        Connect mapping that cannot see call escalations then biases nothing)."""
        z, c = self.zendesk, self.connect
        gaps: dict[str, str] = {}
        if z.follow_up is None:
            why = "zendesk.follow_up is not mapped, so agent follow-ups on tickets cannot be seen"
            gaps |= dict.fromkeys(("follow_up", "hours_to_follow_up"), why)
        if not z.escalation.group_levels and not z.escalation.tag_pattern:
            why = "zendesk.escalation maps no group or tag, so ticket escalations cannot be seen"
            gaps |= dict.fromkeys(("escalation", "missed_escalation", "late_escalation"), why)
        elif calls and not c.escalation_queues and not c.escalated_to_attribute:
            why = (
                "connect.escalation_queues and connect.escalated_to_attribute are unset, so call"
                " escalations cannot be seen"
            )
            gaps |= dict.fromkeys(("escalation", "missed_escalation", "late_escalation"), why)
        if z.escalation_request is None:
            gaps.setdefault(
                "late_escalation", "zendesk.escalation_request is not mapped, so request times are unknown"
            )
            if not c.supervisor_request_categories:
                gaps.setdefault(
                    "missed_escalation",
                    "neither zendesk.escalation_request nor connect.supervisor_request_categories is mapped",
                )
            elif not c.contact_lens:
                gaps.setdefault(
                    "missed_escalation",
                    "zendesk.escalation_request is not mapped and connect.contact_lens is false, so requests"
                    " for a supervisor cannot be seen",
                )
        if z.concession is None and c.concession_amount_attribute is None:
            why = "neither zendesk.concession nor connect.concession_amount_attribute is mapped"
            gaps |= dict.fromkeys(("concessions", "policy_violations", "concession_flags"), why)
        if z.csat_good is None and z.csat_bad is None:
            gaps |= dict.fromkeys(
                ("csat_good", "csat_score"), "zendesk.csat_good and zendesk.csat_bad are unset"
            )
        if c.satisfaction_attribute is None:
            gaps["satisfaction_confirmed"] = "connect.satisfaction_attribute is unset"
        if not c.contact_lens:
            gaps |= dict.fromkeys(
                CONTACT_LENS_METRICS,
                "connect.contact_lens is false, so call sentiment and interruptions are unknown",
            )
        return gaps

    def prefixes(self) -> dict[str, str]:
        """The landing prefix whose objects feed each contract entity."""
        return {
            "tickets": self.zendesk.tickets_prefix,
            "ticket_events": self.zendesk.ticket_events_prefix,
            "calls": self.connect.ctr_prefix,
        }

    def digest(self) -> str:
        """A short hash of the mapping, recorded in the run manifest beside the settings'."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class MappingError(ValueError):
    """The mapping file is missing or wrong: the message names the file and the key."""


def load_mapping(path: str | Path | None) -> VendorMapping:
    """Read and check a mapping file (None: every default)."""
    if path is None:
        return VendorMapping()
    file = Path(path)
    if not file.is_file():
        raise MappingError(f"vendor mapping file not found: {file}")
    try:
        return VendorMapping.model_validate(tomllib.loads(file.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{file}: not TOML ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise MappingError(f"{file}: {problems}") from None
