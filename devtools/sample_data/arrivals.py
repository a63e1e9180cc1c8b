"""When contacts arrive: a Poisson count per agent and day, mostly in business hours, quieter weekends.

All times in the generator are integer seconds since the epoch (UTC) until rendering.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from devtools.sample_data.config import GeneratorConfig

HOUR = 3600
DAY = 86_400


def day_volume_factors(config: GeneratorConfig) -> np.ndarray:
    """Relative volume per day: 1 on weekdays, the configured share on Saturday and Sunday."""
    saturday, sunday = config.behaviour.weekend_volume
    weekdays = np.array([(config.start_date + timedelta(days=d)).weekday() for d in range(config.days)])
    return np.select([weekdays == 5, weekdays == 6], [saturday, sunday], 1.0)


def time_of_day(rng: np.random.Generator, size: int) -> np.ndarray:
    """Seconds after midnight: 85% between 07:00 and 19:00, the rest around the clock."""
    office = rng.integers(7 * HOUR, 19 * HOUR, size=size)
    anytime = rng.integers(0, DAY, size=size)
    return np.where(rng.random(size) < 0.85, office, anytime)


def arrivals(
    config: GeneratorConfig, per_agent_per_day: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(agent, arrived_at) per contact, sorted by arrival time then agent."""
    n_agents = config.n_agents
    expected = np.repeat(per_agent_per_day * day_volume_factors(config), n_agents)
    counts = rng.poisson(expected)
    day = np.repeat(np.repeat(np.arange(config.days), n_agents), counts)
    agent = np.repeat(np.tile(np.arange(n_agents), config.days), counts).astype(np.int32)
    at = config.start_epoch + day.astype(np.int64) * DAY + time_of_day(rng, agent.size)
    order = np.lexsort((agent, at))
    return agent[order], at[order]


def uniform_seconds(rng: np.random.Generator, low_hours: float, high_hours: float, size: int) -> np.ndarray:
    return np.round(rng.uniform(low_hours * HOUR, high_hours * HOUR, size)).astype(np.int64)


def lognormal_seconds(
    rng: np.random.Generator,
    median_hours: float,
    sigma: float,
    size: int,
    low: int = 60,
    high_hours: float = 96,
) -> np.ndarray:
    """Right-skewed durations (reply and handling times), clipped to [low s, high_hours]."""
    values = median_hours * HOUR * np.exp(sigma * rng.standard_normal(size))
    return np.clip(np.round(values), low, high_hours * HOUR).astype(np.int64)
