"""The golden run, computed once per session (per xdist worker) and shared by the golden tests."""

from __future__ import annotations

import pytest
from golden_pipeline import GoldenRun, golden_run


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> GoldenRun:
    """The default sample generated, ingested once and audited on the golden days (~10 s)."""
    return golden_run(tmp_path_factory.mktemp("golden-landing"))
