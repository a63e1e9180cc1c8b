"""The development commands of `audit`: sample exports and the quickstart.

Registered on the `audit` app by flows/cli.py only when this package is importable (a
checkout of the repository); the wheel ships without it.
"""

from __future__ import annotations

from pathlib import Path

import typer

from devtools.sample_data.config import FORMATS
from flows.cli import _day, _run_flow, _yesterday


def _vendor(value: str) -> str:
    from configs.vendors import VENDORS

    if value not in VENDORS:
        raise typer.BadParameter(f"choose from {', '.join(VENDORS)}; got {value!r}")
    return value


def _bad_row_share(value: float | None, vendor: str) -> float:
    """0.02 by default; vendor exports have no bad rows (nothing in a vendor format is one)."""
    if vendor == "contract":
        return 0.02 if value is None else value
    if value:
        raise typer.BadParameter("vendor exports have no bad rows or delivery faults: leave it out or use 0")
    return 0.0


def _formats(value: str) -> tuple[str, ...]:
    formats = tuple(f.strip() for f in value.split(",") if f.strip())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise typer.BadParameter(f"choose from {', '.join(FORMATS)}; got {value!r}")
    return formats


def generate(
    landing: str = typer.Option(
        None, help="Landing folder or s3://bucket/prefix (default: the settings' landing_uri)."
    ),
    end_date: str = typer.Option(
        None, metavar="YYYY-MM-DD", help="Last export day (UTC) (default: yesterday)."
    ),
    days: int = typer.Option(42, min=1, help="Number of export days ending at --end-date."),
    agents: int = typer.Option(20, min=1, help="Agents (before --scale; at least 8 are generated)."),
    teams: int = typer.Option(4, min=1, help="Teams (before --scale)."),
    tickets_per_agent: float = typer.Option(12.0, min=0, help="New tickets per agent per weekday."),
    calls_per_agent: float = typer.Option(8.0, min=0, help="Inbound calls per agent per weekday."),
    scale: float = typer.Option(1.0, min=0.01, help="Multiplies agents and teams (volumes per agent stay)."),
    seed: int = typer.Option(7, help="Random seed: same seed and options give byte-identical files."),
    bad_row_share: float = typer.Option(
        None,
        min=0,
        max=0.49,
        help="Share of extra bad rows (default 0.02; none with --vendor); 0 also disables the "
        "corrupt/re-sent files.",
    ),
    formats: str = typer.Option(
        ",".join(FORMATS), help="Comma-separated file formats to draw from (contract exports)."
    ),
    max_files_per_day: int = typer.Option(
        3, min=1, help="Split each entity-day into up to N files (contract exports)."
    ),
    vendor: str = typer.Option(
        "contract",
        help="Write the same centre as Zendesk + Amazon Connect exports (zendesk+connect) with their "
        "mapping file, instead of contract v1 exports (see docs/sample_data.md#vendor-exports).",
    ),
    config: Path = typer.Option(
        None, exists=True, dir_okay=False, help="Settings overlay TOML (S3 endpoint)."
    ),
) -> None:
    """Write realistic sample exports with planted behaviours (see docs/sample_data.md)."""
    from configs.settings import load_settings
    from devtools.sample_data import GeneratorConfig, generate_exports, generate_vendor_exports

    vendor = _vendor(vendor)
    end = _day(end_date, "--end-date")
    settings = load_settings(config_file=config)
    generator = GeneratorConfig(
        end_date=end or _yesterday(),
        days=days,
        agents=agents,
        teams=teams,
        tickets_per_agent_per_day=tickets_per_agent,
        calls_per_agent_per_day=calls_per_agent,
        scale=scale,
        seed=seed,
        bad_row_share=_bad_row_share(bad_row_share, vendor),
        formats=_formats(formats),
        max_files_per_day=max_files_per_day,
    )
    if generator.n_agents != round(agents * scale):  # said, not silently changed
        typer.echo(
            f"note: {generator.n_agents} agents, not {round(agents * scale)}: the planted agents need "
            "peers for their baselines",
            err=True,
        )
    write = generate_exports if vendor == "contract" else generate_vendor_exports
    summary = write(landing or settings.landing_uri, generator, settings.s3)
    typer.echo(summary.text())


def quickstart(
    s3: bool = typer.Option(False, "--s3", help="Go through an embedded local S3 endpoint."),
    vendor: str = typer.Option(
        "contract",
        help="zendesk+connect: the sample as Zendesk + Amazon Connect exports, read through the "
        "adapters and the generated mapping file (docs/vendors.md).",
    ),
) -> None:
    """Generate six weeks of sample exports, audit, publish tables, Data Docs and the report."""
    from devtools.quickstart import run_quickstart

    typer.echo(_run_flow(run_quickstart, use_s3=s3, vendor=_vendor(vendor)))
