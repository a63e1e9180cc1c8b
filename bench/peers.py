"""Peer flags on generated centres: are the planted agents found, and how often are ordinary ones flagged?

The issue's acceptance check for the funnel-plot comparison (docs/metrics.md, Peers): on the
default generated centre (20 agents in 4 teams, six weeks), for three seeds, every day from the
first with a full 28 days of history to the newest mature one is audited with the production
transforms (`run_audit`), rolled up into rolling 28-day periods (`period_scorecards`) and compared
(`rolling_peer_comparison`). Reported per seed and in total:

- whether the planted agents are flagged on the metric they were planted on (the agent who never
  follows up: `follow_up` below peers; the agent who skips escalation: `missed_escalation` above
  peers), in how many of the windows they were tested in;
- the share of flags among the ordinary agents' tested rows (every metric, both comparisons, all
  windows), against the policy's false-discovery rate.

Run: `python -m bench.peers [--seeds 7 11 13] [--out .bench-cache/peers.json]`; `make bench-peers`.
tests/metrics/test_peers_planted.py runs it on one seed and asserts the same two things.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from configs.policy import Policy, load_policy
from devtools.sample_data import GeneratorConfig, generate_exports
from flows.windows import data_cutoff, export_range, lookahead_days
from ingestion.ingest import ingest_all
from storage import open_storage
from transforms.audit import CanonicalTables, collect_audit, run_audit
from transforms.contacts import AuditWindow
from transforms.peers import rolling_peer_comparison
from transforms.periods import ROLLING_DAYS, periods_frame, rolling_ending
from transforms.scorecards import period_scorecards

END = date(2026, 11, 22)
PLANTED = {
    "no_follow_up_agent": ("follow_up", "below_peers"),
    "no_escalation_agent": ("missed_escalation", "above_peers"),
}


@dataclass(frozen=True)
class SeedResult:
    seed: int
    windows: int
    planted: dict[str, list[int]]  # plant -> [windows flagged as planted, windows tested]
    ordinary_rows: int
    ordinary_flags: int
    seconds: float

    @property
    def ordinary_rate(self) -> float:
        return self.ordinary_flags / self.ordinary_rows if self.ordinary_rows else 0.0


def audit_days(policy: Policy, end: date, export_days: int) -> list[date]:
    """Every day from the first export day to the newest mature one (every look-ahead window
    closed); windows are compared once they hold 28 of these days."""
    first = end - timedelta(days=export_days - 1)
    newest_mature = end - timedelta(days=lookahead_days(policy))
    return [first + timedelta(days=i) for i in range((newest_mature - first).days + 1)]


def peer_rows(landing: Path, config: GeneratorConfig, policy: Policy) -> tuple[pl.DataFrame, dict]:
    """Generate, ingest once, audit every day, and compare every full rolling window."""
    generate_exports(str(landing), config, policy=policy)
    days = audit_days(policy, config.end_date, config.days)
    spans = [export_range(d, policy) for d in days]
    ingested = ingest_all(
        open_storage(str(landing)), min(s.start for s in spans), max(s.end for s in spans), run_id="peers"
    )
    inputs = CanonicalTables(*(ingested[n].canonical for n in ("tickets", "ticket_events", "calls")))
    tz = policy.business_time_zone
    dailies, observations = [], []
    for day in days:
        window = AuditWindow(
            day, tz, data_cutoff(min(export_range(day, policy).end, config.end_date), day, tz)
        )
        tables = collect_audit(run_audit(inputs, window, policy))
        dailies.append(tables["agent_scorecard"])
        observations.append(tables["metric_observations"])
    full = [d for d in days if d - timedelta(days=ROLLING_DAYS - 1) >= days[0]]
    periods = periods_frame(rolling_ending(d) for d in full).with_columns(
        published_days=pl.lit(ROLLING_DAYS, pl.Int64), source_digest=pl.lit("bench")
    )
    observed = pl.concat(observations).lazy()
    agent_periods = period_scorecards(
        pl.concat(dailies).lazy(), observed, periods, policy.min_volume
    ).collect()
    plants = json.loads((landing / "_generator" / "plants.json").read_text())
    return rolling_peer_comparison(agent_periods, observed, policy.peers), plants


def summarise(seed: int, rows: pl.DataFrame, plants: dict, seconds: float) -> SeedResult:
    planted_ids = {plants[name] for name in PLANTED}
    planted = {}
    for name, (metric, side) in PLANTED.items():
        mine = rows.filter((pl.col("agent_id") == plants[name]) & (pl.col("metric") == metric))
        mine = mine.filter(pl.col("comparison") == "centre")
        planted[name] = [mine.filter(pl.col("flag_type") == side).height, mine.height]
    ordinary = rows.filter(~pl.col("agent_id").is_in(sorted(planted_ids)))
    return SeedResult(
        seed,
        rows["period_end"].n_unique(),
        planted,
        ordinary.height,
        int(ordinary["is_flagged"].sum()),
        round(seconds, 1),
    )


def measure(seed: int, policy: Policy, days: int = 42) -> tuple[SeedResult, pl.DataFrame]:
    started = time.perf_counter()
    config = GeneratorConfig(end_date=END, seed=seed, days=days)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        rows, plants = peer_rows(Path(tmp), config, policy)
    return summarise(seed, rows, plants, time.perf_counter() - started), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 13])
    parser.add_argument("--out", type=Path, default=Path(".bench-cache/peers.json"))
    args = parser.parse_args()
    policy = load_policy()
    results = [measure(seed, policy)[0] for seed in args.seeds]
    rows = sum(r.ordinary_rows for r in results)
    flags = sum(r.ordinary_flags for r in results)
    for r in results:
        planted = ", ".join(f"{name} {hit}/{tested}" for name, (hit, tested) in r.planted.items())
        print(
            f"seed {r.seed}: {r.windows} windows; planted flagged in windows tested: {planted}; "
            f"ordinary rows flagged {r.ordinary_flags}/{r.ordinary_rows} ({r.ordinary_rate:.2%}); "
            f"{r.seconds} s"
        )
    print(f"all seeds: ordinary rows flagged {flags}/{rows} ({flags / rows:.2%}); fdr {policy.peers.fdr:.0%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
