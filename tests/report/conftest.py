"""Fixtures for the report tests: a small published warehouse (see report_fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import build_warehouse


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """A fresh warehouse a test may change."""
    return Path(build_warehouse(tmp_path / "warehouse"))


@pytest.fixture(scope="module")
def shared_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same warehouse, read-only, shared by a module's tests."""
    return Path(build_warehouse(tmp_path_factory.mktemp("shared") / "warehouse"))


@pytest.fixture(scope="module")
def v2_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared warehouse with report v2's tables (periods, peers, flag lifecycle), read-only."""
    return Path(build_warehouse(tmp_path_factory.mktemp("v2") / "warehouse", v2=True))
