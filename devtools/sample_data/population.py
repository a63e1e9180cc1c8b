"""Who is in the centre: agents in teams, one supervisor per team, a customer pool, planted roles.

Customers are drawn from a pool a few times smaller than the number of contacts, so repeat
contacts happen. Customer 0 is reserved for the planted repeat beneficiary; the agent who never
follows up serves a customer segment of their own, so no colleague's follow-up reaches them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from devtools.sample_data.config import GeneratorConfig

BENEFICIARY = 0


@dataclass(frozen=True)
class Population:
    n_agents: int
    n_teams: int
    agent_team: np.ndarray  # team index per agent
    customer_tier: np.ndarray  # 0 standard, 1 premium, per customer
    no_follow_up_agent: int
    generous_agent: int
    no_escalation_agent: int
    own_pool: tuple[int, int]  # [start, stop) customers of the no-follow-up agent
    main_pool: tuple[int, int]  # [start, stop) everyone else's customers

    @property
    def planted_agents(self) -> tuple[int, int, int]:
        return (self.no_follow_up_agent, self.generous_agent, self.no_escalation_agent)

    def is_ordinary(self, agents: np.ndarray) -> np.ndarray:
        return ~np.isin(agents, self.planted_agents)

    def draw_customers(self, agents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A customer per contact: the planted agent's own segment, else the main pool."""
        main = rng.integers(*self.main_pool, size=agents.size)
        own = rng.integers(*self.own_pool, size=agents.size)
        return np.where(agents == self.no_follow_up_agent, own, main).astype(np.int32)


def build_population(config: GeneratorConfig, rng: np.random.Generator) -> Population:
    n_agents, n_teams = config.n_agents, config.n_teams
    contacts_per_agent = config.days * (config.tickets_per_agent_per_day + config.calls_per_agent_per_day)
    per_customer = config.behaviour.contacts_per_customer
    own_size = max(10, round(contacts_per_agent / per_customer))
    main_size = max(50, round(contacts_per_agent * (n_agents - 1) / per_customer))
    n_customers = 1 + own_size + main_size
    tier = (rng.random(n_customers) < config.behaviour.premium_share).astype(np.int8)
    tier[BENEFICIARY] = 0
    planted = rng.choice(n_agents, size=3, replace=False)
    return Population(
        n_agents=n_agents,
        n_teams=n_teams,
        agent_team=(np.arange(n_agents) % n_teams).astype(np.int16),
        customer_tier=tier,
        no_follow_up_agent=int(planted[0]),
        generous_agent=int(planted[1]),
        no_escalation_agent=int(planted[2]),
        own_pool=(1, 1 + own_size),
        main_pool=(1 + own_size, n_customers),
    )


def agent_id(index: int) -> str:
    return f"agent-{index:04d}"


def team_id(index: int) -> str:
    return f"team-{index:02d}"


def supervisor_id(team: int) -> str:
    return f"sup-{team:02d}"


def customer_id(index: int) -> str:
    return f"cust-{index:07d}"
