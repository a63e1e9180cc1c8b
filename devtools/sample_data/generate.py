"""Build a synthetic support centre and write its exports in the contract layout.

`build_dataset` is pure (numpy + Polars, no I/O); `generate_exports` writes the export folders,
the `_SUCCESS` markers, the planted faults and `_generator/plants.json` through `open_storage`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from configs.policy import Policy, load_policy
from configs.settings import S3Settings
from devtools.sample_data.calls import build_call_legs, plan_inbound_calls
from devtools.sample_data.concessions import decide_concessions
from devtools.sample_data.config import ENTITIES, GeneratorConfig, benchmark_config
from devtools.sample_data.faults import DRIFT_COLUMN, drift_start, truncated_gzip
from devtools.sample_data.layout import ExportFile, day_files, folder
from devtools.sample_data.population import Population, agent_id, build_population, customer_id
from devtools.sample_data.records import (
    call_id,
    call_records,
    call_versions,
    event_id,
    event_records,
    number_calls,
    number_events,
    ticket_records,
    ticket_versions,
)
from devtools.sample_data.tickets import KIND, build_ticket_events, plan_tickets
from storage import open_storage

PLANTS_KEY = "_generator/plants.json"
BENCHMARK_END = date(2026, 10, 31)
STREAMS = ("population", "tickets", "calls", "concessions", "timeline", "legs", "versions", "files")


@dataclass(frozen=True)
class Dataset:
    """Everything generated, coded, before rendering per export day."""

    config: GeneratorConfig
    pop: Population
    tickets: pl.DataFrame  # ticket plans with times
    events: pl.DataFrame  # coded events exported by the cutoff, numbered, with `day`
    ticket_versions: pl.DataFrame  # coded ticket versions with `day`
    calls: pl.DataFrame  # coded call versions exported by the cutoff, numbered, with `day`
    concessions: pl.DataFrame  # concession terms (TABLE_SCHEMA) with `concession_id`

    def day(self, index: int) -> date:
        return self.config.start_date + timedelta(days=index)


@dataclass
class GenerationSummary:
    landing_uri: str
    start_date: date
    end_date: date
    files: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # good rows written per entity
    bad_rows: dict[str, dict[str, int]] = field(default_factory=dict)
    plants: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # more lines for the summary (the vendor mapping)

    def text(self) -> str:
        """A short human summary: where, how much, what was planted."""
        bad = {e: sum(r.values()) for e, r in self.bad_rows.items()}
        p = self.plants
        lines = [
            f"Wrote {self.files} files to {self.landing_uri} "
            f"(export days {self.start_date} .. {self.end_date}).",
            *(f"  {e:<14} {n:>9,} rows  (+{bad.get(e, 0):,} bad rows)" for e, n in self.rows.items()),
            "Planted (details in _generator/plants.json):",
            f"  no follow-up agent:      {p['no_follow_up_agent']}",
            f"  high concession agent:   {p['high_concession_agent']}",
            f"  no escalation agent:     {p['no_escalation_agent']}",
            f"  repeat beneficiary:      {p['repeat_beneficiary']['customer_id']} "
            f"({len(p['repeat_beneficiary']['concession_ids'])} concessions)",
        ]
        faults = p.get("faults", {})
        if "corrupt_file" in faults:
            lines.append(f"  corrupt file:            {faults['corrupt_file']}")
        if "redelivered_file" in faults:
            lines.append(f"  re-delivered file:       {faults['redelivered_file']['copy']}")
        return "\n".join([*lines, *self.notes])


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent random streams per component: changing one part leaves the others' draws alone."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(STREAMS, children, strict=True)}


def build_dataset(config: GeneratorConfig, policy: Policy | None = None) -> Dataset:
    policy = policy or load_policy()
    rng = _streams(config.seed)
    pop = build_population(config, rng["population"])
    tickets = plan_tickets(config, pop, rng["tickets"])
    inbound = plan_inbound_calls(config, pop, rng["calls"])
    plan = decide_concessions(tickets, inbound, pop, config, policy, rng["concessions"])
    events, tickets = build_ticket_events(plan.tickets, pop, config, rng["timeline"])
    legs = build_call_legs(plan.calls, tickets, pop, config, rng["legs"])
    events = number_events(events, config.cutoff_epoch, config.start_epoch)
    numbered_calls = number_calls(legs, config.cutoff_epoch)
    calls = (
        call_versions(numbered_calls, config.behaviour.call_revision_share, rng["versions"])
        .filter(pl.col("updated") < config.cutoff_epoch)
        .with_columns(day=((pl.col("updated") - config.start_epoch) // 86_400).cast(pl.Int32))
    )
    return Dataset(
        config=config,
        pop=pop,
        tickets=tickets,
        events=events,
        ticket_versions=ticket_versions(events),
        calls=calls,
        concessions=_concession_ids(plan.table, events, numbered_calls),
    )


def _concession_ids(table: pl.DataFrame, events: pl.DataFrame, calls: pl.DataFrame) -> pl.DataFrame:
    """The id the pipeline sees for each exported concession (event_id or call_id)."""
    by_ticket = events.filter(pl.col("kind") == KIND["concession"]).select(
        pl.lit("ticket").alias("contact_type"),
        pl.col("ticket").alias("index"),
        event_id("event_no").alias("id"),
    )
    by_call = calls.select(
        pl.lit("call").alias("contact_type"), pl.col("leg").alias("index"), call_id("call_no").alias("id")
    )
    ids = pl.concat([by_ticket, by_call])
    return table.join(ids, on=["contact_type", "index"], how="inner").rename({"id": "concession_id"})


def day_records(data: Dataset, entity: str, part: pl.DataFrame) -> pl.DataFrame:
    """Contract rows of one entity for one export day."""
    # Sorted on the integer codes: ids are zero-padded, so this is also (time, id) order.
    if entity == "tickets":
        return ticket_records(part.sort("updated", "ticket"), data.tickets, data.pop)
    if entity == "ticket_events":
        return event_records(part.sort("event_no"), data.tickets, data.concessions, data.pop)
    return call_records(part.sort("updated", "call_no"), data.concessions, data.pop)


@dataclass
class ExportLog:
    """What `export_files` planted, filled in as the files are produced."""

    bad_rows: dict[str, dict[str, int]] = field(default_factory=lambda: {e: {} for e in ENTITIES})
    faults: dict[str, Any] = field(default_factory=dict)


def export_files(data: Dataset, log: ExportLog) -> Iterator[ExportFile]:
    """Every file of the landing area, one export folder at a time (so they can be written as
    they come), then the delivery faults: a re-delivered events file and a corrupt calls file."""
    config = data.config
    rng = _streams(config.seed)["files"]
    sources = {"tickets": data.ticket_versions, "ticket_events": data.events, "calls": data.calls}
    # The faults copy the first file of a mid-period day.
    fault_days = {"ticket_events": config.days // 2, "calls": config.days // 3}
    fault_sources: dict[str, ExportFile] = {}
    for entity in ENTITIES:
        parts = sources[entity].partition_by("day", as_dict=True, maintain_order=True)
        for index in range(config.days):  # one export folder per day
            part = parts.get((index,))
            typed = day_records(data, entity, part) if part is not None else None
            if typed is None or typed.is_empty():
                continue
            files, counts = day_files(entity, data.day(index), typed, config, rng)
            yield from files
            yield ExportFile(f"{folder(entity, data.day(index))}/_SUCCESS", b"", 0, 0)
            if index >= fault_days.get(entity, config.days) and entity not in fault_sources:
                fault_sources[entity] = files[0]
            for reason, n in counts.items():
                log.bad_rows[entity][reason] = log.bad_rows[entity].get(reason, 0) + n
    if config.has_faults:
        log.faults["schema_drift"] = {
            "entity": "tickets",
            "column": DRIFT_COLUMN,
            "from_export_date": drift_start(config.start_date, config.days).isoformat(),
        }
        yield from _delivery_faults(fault_sources, config, log)


def _delivery_faults(
    sources: dict[str, ExportFile], config: GeneratorConfig, log: ExportLog
) -> list[ExportFile]:
    """The same events file again under another name in the next day's folder, and a truncated
    gzip copy of a calls file (extra files: no row is lost when they are quarantined)."""
    extra: list[ExportFile] = []
    if original := sources.get("ticket_events"):
        day = date.fromisoformat(original.key.split("export_date=")[1].split("/")[0])
        target = min(day + timedelta(days=1), config.end_date)
        name = original.key.rsplit("/", 1)[1]
        extra.append(ExportFile(f"{folder('ticket_events', target)}/redelivered_{name}", original.data, 0, 0))
        log.faults["redelivered_file"] = {"original": original.key, "copy": extra[-1].key}
    if source := sources.get("calls"):
        key = f"{source.key.rsplit('/', 1)[0]}/calls_resend.csv.gz"
        extra.append(ExportFile(key, truncated_gzip(source.data), 0, 0))
        log.faults["corrupt_file"] = key
    return extra


def planted_ids(data: Dataset) -> dict[str, Any]:
    """What was planted, by the ids the pipeline sees (written to `_generator/plants.json`)."""
    pop, conc = data.pop, data.concessions
    beneficiary = conc.filter(pl.col("plant") == "repeat_beneficiary").sort("concession_id")
    outlier = conc.filter(pl.col("plant") == "amount_outlier")
    violations = conc.filter(pl.col("plant").is_not_null() & ~pl.col("plant").is_in(["repeat_beneficiary"]))
    violations = violations.filter(pl.col("plant") != "amount_outlier").sort("concession_id")
    return {
        "no_follow_up_agent": agent_id(pop.no_follow_up_agent),
        "high_concession_agent": agent_id(pop.generous_agent),
        "no_escalation_agent": agent_id(pop.no_escalation_agent),
        "repeat_beneficiary": {
            "customer_id": customer_id(0),
            "concession_ids": beneficiary["concession_id"].to_list(),
            "agent_ids": sorted({agent_id(a) for a in beneficiary["agent"].to_list()}),
        },
        "amount_outlier": outlier.select(
            "concession_id",
            pl.lit("billing").alias("category"),
            "concession_type",
            "concession_amount",
            "currency",
        ).to_dicts(),
        "policy_violations": violations.select(
            "concession_id", pl.col("plant").alias("violation")
        ).to_dicts(),
    }


def generate_exports(
    landing_uri: str,
    config: GeneratorConfig,
    s3: S3Settings | None = None,
    policy: Policy | None = None,
) -> GenerationSummary:
    """Write the exports, markers, faults and plants.json under `landing_uri` (folder or s3://)."""
    data = build_dataset(config, policy)
    storage = open_storage(landing_uri, s3)
    log = ExportLog()
    summary = GenerationSummary(
        landing_uri, config.start_date, config.end_date, rows=dict.fromkeys(ENTITIES, 0)
    )
    for item in export_files(data, log):
        storage.write_bytes(item.key, item.data)
        if not item.key.endswith("_SUCCESS"):
            summary.files += 1
            entity = item.key.split("/", 1)[0]
            summary.rows[entity] += item.rows
    summary.bad_rows = log.bad_rows
    summary.plants = planted_ids(data) | {"faults": {"bad_rows": log.bad_rows, **log.faults}}
    summary.plants["generator"] = describe_config(config)
    # Written last: its presence marks a complete landing area (see ensure_exports).
    storage.write_bytes(
        PLANTS_KEY, json.dumps(summary.plants, indent=2, sort_keys=True).encode(), "application/json"
    )
    return summary


def ensure_exports(cache_dir: str | Path, config: GeneratorConfig) -> Path:
    """Generate into a local cache folder unless it already holds exactly this configuration.

    plants.json is written last, so its presence with the same description marks a complete run.
    """
    root = Path(cache_dir)
    marker = root / PLANTS_KEY
    wanted = json.loads(json.dumps(describe_config(config)))  # tuples as JSON lists
    if marker.exists() and json.loads(marker.read_text()).get("generator") == wanted:
        return root
    generate_exports(str(root), config)
    return root


def ensure_benchmark_exports(cache_dir: str | Path, end_date: date = BENCHMARK_END, seed: int = 7) -> Path:
    """42 days of the 1,000-agent benchmark centre as Parquet, generated once per cache folder."""
    return ensure_exports(cache_dir, benchmark_config(end_date, seed))


def describe_config(config: GeneratorConfig) -> dict[str, Any]:
    return {
        "seed": config.seed,
        "start_date": config.start_date.isoformat(),
        "end_date": config.end_date.isoformat(),
        "days": config.days,
        "agents": config.n_agents,
        "teams": config.n_teams,
        "tickets_per_agent_per_day": config.tickets_per_agent_per_day,
        "calls_per_agent_per_day": config.calls_per_agent_per_day,
        "scale": config.scale,
        "bad_row_share": config.bad_row_share,
        "formats": list(config.formats),
        "max_files_per_day": config.max_files_per_day,
        "behaviour": asdict(config.behaviour),
    }
