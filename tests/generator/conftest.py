"""Generated landing areas shared by the generator tests (generated once per session)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from generator_exports import BASE, read_entity

from devtools.sample_data import generate_exports


@pytest.fixture(scope="session")
def clean_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """42 days of the default centre without faults: the planted behaviours are checked here."""
    root = tmp_path_factory.mktemp("clean")
    generate_exports(str(root), BASE)
    return root


@pytest.fixture(scope="session")
def faulty_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same centre and seed with 3% bad rows, the corrupt and the re-delivered file."""
    root = tmp_path_factory.mktemp("faulty")
    generate_exports(str(root), replace(BASE, bad_row_share=0.03))
    return root


@pytest.fixture(scope="session")
def clean(clean_root: Path) -> dict[str, pl.DataFrame]:
    return {e: read_entity(clean_root, e) for e in ("tickets", "ticket_events", "calls")}
