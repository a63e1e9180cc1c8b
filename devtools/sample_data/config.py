"""What the generator is asked for (`GeneratorConfig`) and how ordinary agents behave (`Behaviour`).

Everything random is drawn from `seed`, so the same config gives byte-identical exports. The end
date is explicit (never read from the clock here) for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

FORMATS = ("parquet", "csv", "csv.gz", "jsonl", "jsonl.gz")
ENTITIES = ("tickets", "ticket_events", "calls")

CATEGORIES = ("billing", "outage", "hardware", "account", "shipping", "general")
CATEGORY_SHARES = (0.25, 0.15, 0.15, 0.20, 0.17, 0.08)
CHANNELS = ("email", "chat", "web", "phone", "social", "other")
CHANNEL_SHARES = (0.40, 0.20, 0.20, 0.12, 0.05, 0.03)
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_SHARES = (0.20, 0.62, 0.14, 0.04)
TIERS = ("standard", "premium")

# Planted agents need peers for the leave-one-out baseline.
MIN_AGENTS = 8


@dataclass(frozen=True)
class Behaviour:
    """Rates of the ordinary centre; the planted agents deviate from these on one axis each."""

    premium_share: float = 0.2
    contacts_per_customer: float = 2.5  # pool size = expected customer-initiated contacts / this
    weekend_volume: tuple[float, float] = (0.5, 0.35)  # Saturday, Sunday relative to a weekday
    unsolved_share: float = 0.04
    reassigned_share: float = 0.05
    internal_note_share: float = 0.3
    exchange_shares: tuple[float, float, float] = (0.5, 0.35, 0.15)  # 0, 1, 2 extra exchanges
    reopen_share: float = 0.05
    escalation_request_share: float = 0.06
    csat_share: float = 0.35
    follow_up_share: float = 0.9  # of eligible contacts, ordinary agents
    follow_up_by_call_share: float = 0.2  # ticket follow-ups made as an outbound call
    callback_kept_share: float = 0.92
    outbound_answered_share: float = 0.75
    abandoned_share: float = 0.07
    transfer_share: float = 0.06
    supervisor_request_share: float = 0.04
    urgent_escalation_share: float = 0.6  # urgent tickets ordinary agents hand up unasked
    # Base share of contacts with a concession, per category (same order as CATEGORIES).
    concession_base: tuple[float, ...] = (0.06, 0.08, 0.05, 0.04, 0.06, 0.0)
    # The generous agent's multiplier: about 25% of concession-eligible contacts vs 5%. It sits in
    # every peer's leave-one-out baseline, so small centres cap it (concessions.generous_boost).
    concession_boost: float = 5.0
    max_concessions_per_customer: int = 2  # everyone but the planted beneficiary, whole period
    eur_share: float = 0.12
    approval_share: float = 0.9  # concessions above the threshold that carry approved_by
    call_revision_share: float = 0.15  # calls re-exported once analytics complete
    close_after_days: float = 4.0


@dataclass(frozen=True)
class GeneratorConfig:
    """The knobs of `audit generate`. `scale` multiplies agents and teams, so per-agent rates
    (and the planted statistics) stay the same at any size."""

    end_date: date
    days: int = 42
    agents: int = 20
    teams: int = 4
    tickets_per_agent_per_day: float = 12.0
    calls_per_agent_per_day: float = 8.0
    scale: float = 1.0
    seed: int = 7
    bad_row_share: float = 0.02
    formats: tuple[str, ...] = FORMATS
    max_files_per_day: int = 3
    behaviour: Behaviour = field(default_factory=Behaviour)

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ValueError(f"formats must be a non-empty subset of {FORMATS}, got {self.formats}")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if not 0 <= self.bad_row_share < 0.5:
            raise ValueError("bad_row_share must be in [0, 0.5)")
        if self.scale <= 0 or self.tickets_per_agent_per_day < 0 or self.calls_per_agent_per_day < 0:
            raise ValueError("scale must be > 0 and volumes >= 0")
        if self.max_files_per_day < 1:
            raise ValueError("max_files_per_day must be >= 1")

    @property
    def n_agents(self) -> int:
        return max(MIN_AGENTS, round(self.agents * self.scale))

    @property
    def n_teams(self) -> int:
        return max(1, min(self.n_agents // 2, round(self.teams * self.scale)))

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)

    @property
    def start_epoch(self) -> int:
        """Seconds since the epoch at midnight UTC starting the first day."""
        return int(datetime.combine(self.start_date, time(0), tzinfo=UTC).timestamp())

    @property
    def cutoff_epoch(self) -> int:
        """End of the last export day (exclusive): nothing later has been exported yet."""
        return self.start_epoch + self.days * 86_400

    @property
    def has_faults(self) -> bool:
        """Bad rows, the corrupt file and the re-delivered file come together."""
        return self.bad_row_share > 0


def benchmark_config(end_date: date, seed: int = 7) -> GeneratorConfig:
    """A 1,000-agent centre (about 50k tickets and 30k calls a weekday), Parquet only, no faults."""
    return GeneratorConfig(
        end_date=end_date,
        days=42,
        agents=1000,
        teams=50,
        tickets_per_agent_per_day=50.0,
        calls_per_agent_per_day=30.0,
        seed=seed,
        bad_row_share=0.0,
        formats=("parquet",),
        max_files_per_day=1,
    )
