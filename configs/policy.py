"""The versioned audit policy: every threshold in the metric definitions, typed.

The file shape is documented in docs/policy.md (every key, its default and what it changes).
Unknown keys, wrong types and negative caps are refused at load with a message that
names the key, so a run never starts on a policy it misread.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONCESSION_TYPES = ("credit", "refund", "free_service", "replacement", "discount", "fee_waiver")
DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.toml")

NonNegFloat = Annotated[float, Field(ge=0)]
PosInt = Annotated[int, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class FollowUpPolicy(_Strict):
    window_hours: Annotated[float, Field(gt=0)] = 72
    callback_promised_window_hours: Annotated[float, Field(gt=0)] = 24
    categories: Literal["all"] | tuple[str, ...] = "all"
    count_unanswered_attempts: bool = True


class EscalationPolicy(_Strict):
    request_to_escalation_hours: Annotated[float, Field(ge=0)] = 4
    negative_sentiment: Annotated[float, Field(ge=-5, le=5)] = -2.0
    repeat_contacts: PosInt = 3
    repeat_window_days: PosInt = 7
    came_back_window_days: PosInt = 7
    lost_control_drop: NonNegFloat = 2.0
    lost_control_end: Annotated[float, Field(ge=-5, le=5)] = -2.0
    argumentative_interruptions: PosInt = 3


class ResolutionPolicy(_Strict):
    repeat_window_days: PosInt = 7
    reply_sla_hours: Annotated[float, Field(gt=0)] = 24


class ConcessionPolicy(_Strict):
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    approval_threshold: NonNegFloat = 50.0
    window_days: PosInt = 28
    min_contacts_for_flag: PosInt = 30
    rate_ratio_min: NonNegFloat = 1.5
    bh_q: Annotated[float, Field(gt=0, lt=1)] = 0.05
    outlier_robust_z: NonNegFloat = 3.5
    outlier_min_group: PosInt = 10
    repeat_beneficiary_min: PosInt = 3
    currencies: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=lambda: {"USD": 1.0})
    caps: dict[str, NonNegFloat] = Field(default_factory=dict)
    allowed: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    allowed_extra_by_tier: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("currencies")
    @classmethod
    def _currency_codes(cls, value: dict[str, float]) -> dict[str, float]:
        """ISO codes, compared upper-case as exports' currencies are (`eur` is EUR); a code given
        twice in different cases is refused rather than one rate silently winning."""
        codes = {code.strip().upper(): rate for code, rate in value.items()}
        if len(codes) != len(value):
            raise ValueError(f"currency codes repeat when upper-cased: {sorted(value)}")
        bad = [code for code in codes if len(code) != 3 or not code.isalpha() or not code.isascii()]
        if bad:
            raise ValueError(f"not three-letter currency codes: {bad}")
        return codes

    @field_validator("caps", "allowed", "allowed_extra_by_tier")
    @classmethod
    def _known_types(cls, value: dict) -> dict:
        for key, item in value.items():
            types = [key] if isinstance(item, float | int) else list(item)
            unknown = [t for t in types if t not in CONCESSION_TYPES]
            if unknown:
                raise ValueError(f"unknown concession type(s) {unknown} under '{key}'")
        return value

    def allowed_types(self, category: str | None, tier: str | None) -> frozenset[str]:
        """Types allowed for a category and customer tier (a category with no entry allows none)."""
        base = set(self.allowed.get(category or "", ()))
        return frozenset(base | set(self.allowed_extra_by_tier.get(tier or "", ())))


class PeerPolicy(_Strict):
    """Funnel-plot comparison of every rate with the agent's peers (docs/metrics.md, Peers)."""

    fdr: Annotated[float, Field(gt=0, lt=1)] = 0.05
    limits: tuple[Annotated[float, Field(gt=0, lt=1)], Annotated[float, Field(gt=0, lt=1)]] = (0.95, 0.998)
    winsor_fraction: Annotated[float, Field(ge=0, lt=0.5)] = 0.1
    min_denominator: PosInt = 20
    min_agents: Annotated[int, Field(ge=2)] = 5
    max_evidence_ids: PosInt = 200

    @field_validator("limits")
    @classmethod
    def _inner_then_outer(cls, value: tuple[float, float]) -> tuple[float, float]:
        """The inner funnel first: a reversed pair would swap the columns the report draws."""
        if value[0] >= value[1]:
            raise ValueError(f"the inner limit must be below the outer one, got {list(value)}")
        return value


def iana_zone(value: str) -> str:
    """`value` when it names an IANA time zone (checked where it is loaded: the policy file, or
    the settings that override it), else ValueError."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"not an IANA time zone: {value!r}") from exc
    return value


class Policy(_Strict):
    version: Annotated[str, Field(min_length=1)]
    business_time_zone: str = "UTC"
    min_volume: Annotated[int, Field(ge=0)] = 20
    follow_up: FollowUpPolicy = FollowUpPolicy()
    escalation: EscalationPolicy = EscalationPolicy()
    resolution: ResolutionPolicy = ResolutionPolicy()
    concessions: ConcessionPolicy = ConcessionPolicy()
    peers: PeerPolicy = PeerPolicy()

    @field_validator("business_time_zone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        return iana_zone(value)

    def digest(self) -> str:
        """Stable hash of the effective policy, recorded in the run manifest."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class PolicyError(ValueError):
    """The policy file is malformed; the message names every bad key."""


def parse_policy(data: dict) -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise PolicyError(f"invalid policy: {problems}") from None


def load_policy(path: Path | str | None = None) -> Policy:
    """Read and validate a policy TOML file (the project default when no path is given)."""
    path = Path(path) if path else DEFAULT_POLICY_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"policy file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {path} is not valid TOML: {exc}") from None
    return parse_policy(data)
