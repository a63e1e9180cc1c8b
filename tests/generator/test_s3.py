"""Generating straight into an S3 bucket (a moto server process over HTTP) gives the local bytes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from devtools.sample_data import GeneratorConfig, generate_exports

CONFIG = GeneratorConfig(end_date=date(2026, 5, 3), days=3, agents=8, teams=2, seed=5)


@pytest.mark.integration
def test_s3_landing_holds_the_same_objects_as_a_local_one(s3_bucket, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    generate_exports(s3_bucket.uri("landing"), CONFIG, s3_bucket.settings)
    generate_exports(str(tmp_path), CONFIG)
    storage = s3_bucket.storage("landing")
    remote = {o.key: storage.read_bytes(o.key) for o in storage.list()}
    local = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert remote.keys() == local.keys()
    assert remote == local
    assert "_generator/plants.json" in remote
