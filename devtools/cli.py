"""The development commands of `audit`: sample exports and the quickstart.

Registered on the `audit` app by flows/cli.py only when this package is importable (a
checkout of the repository); the wheel ships without it.
"""

from __future__ import annotations

from pathlib import Path

import typer

from devtools.sample_data.config import FORMATS
from flows.cli import _day, _run_flow, _yesterday


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
    agents: int = typer.Option(20, min=1, help="Agents (before --scale)."),
    teams: int = typer.Option(4, min=1, help="Teams (before --scale)."),
    tickets_per_agent: float = typer.Option(12.0, min=0, help="New tickets per agent per weekday."),
    calls_per_agent: float = typer.Option(8.0, min=0, help="Inbound calls per agent per weekday."),
    scale: float = typer.Option(1.0, min=0.01, help="Multiplies agents and teams (volumes per agent stay)."),
    seed: int = typer.Option(7, help="Random seed: same seed and options give byte-identical files."),
    bad_row_share: float = typer.Option(
        0.02, min=0, max=0.49, help="Share of extra bad rows; 0 also disables the corrupt/re-sent files."
    ),
    formats: str = typer.Option(",".join(FORMATS), help="Comma-separated file formats to draw from."),
    max_files_per_day: int = typer.Option(3, min=1, help="Split each entity-day into up to N files."),
    config: Path = typer.Option(
        None, exists=True, dir_okay=False, help="Settings overlay TOML (S3 endpoint)."
    ),
) -> None:
    """Write realistic sample exports with planted behaviours (see docs/sample_data.md)."""
    from configs.settings import load_settings
    from devtools.sample_data import GeneratorConfig, generate_exports

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
        bad_row_share=bad_row_share,
        formats=_formats(formats),
        max_files_per_day=max_files_per_day,
    )
    summary = generate_exports(landing or settings.landing_uri, generator, settings.s3)
    typer.echo(summary.text())


def quickstart(
    s3: bool = typer.Option(False, "--s3", help="Go through an embedded local S3 endpoint."),
) -> None:
    """Generate six weeks of sample exports, audit, publish tables, Data Docs and the report."""
    from devtools.quickstart import run_quickstart

    typer.echo(_run_flow(run_quickstart, use_s3=s3))
