"""Same seed and options give byte-identical files; the scale knob scales volumes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from generator_exports import export_keys, read_entity

from devtools.sample_data import (
    GeneratorConfig,
    benchmark_config,
    build_dataset,
    ensure_exports,
    generate_exports,
)

SMALL = GeneratorConfig(end_date=date(2026, 3, 31), days=5, agents=10, teams=2, seed=3, bad_row_share=0.05)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_and_options_give_identical_bytes(tmp_path: Path) -> None:
    generate_exports(str(tmp_path / "a"), SMALL)
    generate_exports(str(tmp_path / "b"), SMALL)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(first) > 10
    assert first == second


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generate_exports(str(tmp_path / "a"), SMALL)
    generate_exports(str(tmp_path / "b"), replace(SMALL, seed=4))
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first["_generator/plants.json"] != second["_generator/plants.json"]
    assert first.keys() != second.keys() or first != second


@pytest.mark.parametrize("scale", [2.0, 3.0])
def test_scale_multiplies_agents_and_volumes(scale: float) -> None:
    base = build_dataset(replace(SMALL, agents=20, teams=4))
    scaled = build_dataset(replace(SMALL, agents=20, teams=4, scale=scale))
    assert scaled.pop.n_agents == round(20 * scale)
    assert scaled.pop.n_teams == round(4 * scale)
    for name in ("tickets", "events", "calls"):
        ratio = getattr(scaled, name).height / getattr(base, name).height
        assert scale * 0.85 < ratio < scale * 1.15, name


def test_small_centres_keep_enough_peers_for_the_planted_agents() -> None:
    tiny = build_dataset(replace(SMALL, agents=2, teams=1))
    assert tiny.pop.n_agents == 8
    assert len(set(tiny.pop.planted_agents)) == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [("days", 0), ("bad_row_share", 0.5), ("formats", ("xml",)), ("formats", ()), ("scale", 0.0)],
)
def test_invalid_options_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field.split("_")[0]):
        replace(SMALL, **{field: value})


def test_ensure_exports_generates_once_per_configuration(tmp_path: Path) -> None:
    config = replace(SMALL, days=2, bad_row_share=0.0)
    root = ensure_exports(tmp_path, config)
    plants = root / "_generator" / "plants.json"
    first = plants.stat().st_mtime_ns
    ensure_exports(tmp_path, config)
    assert plants.stat().st_mtime_ns == first
    ensure_exports(tmp_path, replace(config, seed=99))
    assert plants.stat().st_mtime_ns != first
    assert json.loads(plants.read_text())["generator"]["seed"] == 99


def test_benchmark_config_is_a_parquet_only_fault_free_1000_agent_centre() -> None:
    config = benchmark_config(date(2026, 10, 31))
    assert (config.n_agents, config.days, config.formats, config.bad_row_share) == (1000, 42, ("parquet",), 0)
    assert config.tickets_per_agent_per_day * config.n_agents == 50_000


def test_summary_counts_match_the_files(tmp_path: Path) -> None:
    summary = generate_exports(str(tmp_path), replace(SMALL, bad_row_share=0.0))
    for entity, rows in summary.rows.items():
        assert read_entity(tmp_path, entity).height == rows > 0
    assert summary.files == len(export_keys(tmp_path))
    assert summary.bad_rows == {"tickets": {}, "ticket_events": {}, "calls": {}}
    assert "corrupt_file" not in summary.plants["faults"]
