"""The vendor benchmark's verdict: a share of the same day's transforms, never PASS unmeasured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import vendors
from tests.conftest import S3Bucket

FIGURES = {
    "wall_seconds": 3.0,
    "cpu_seconds": 2.9,
    "peak_rss_gb": 0.3,
    "load": "load 1.00 1.00 1.00",
    "rows": {},
    "objects": {},
    "contact_lens_files_found": 0,
}


def test_share_of_the_days_transforms_is_judged() -> None:
    assert "[target <= 25 %, <= 2 GB: PASS]" in vendors._verdict("folder", FIGURES, 12.0)  # 3/12 = 25 %
    assert "25% of the day's transforms (12.0 s)" in vendors._verdict("folder", FIGURES, 12.0)
    assert ": FAIL]" in vendors._verdict("folder", FIGURES, 11.9)  # 25.2 %
    assert ": FAIL]" in vendors._verdict("folder", {**FIGURES, "peak_rss_gb": 2.1}, 100.0)


def test_no_transform_figure_is_not_a_pass() -> None:
    line = vendors._verdict("folder", FIGURES, None)
    assert "FAIL: time not judged" in line and "PASS" not in line


def test_transform_figure_of_make_bench_is_preferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figure = tmp_path / "transforms.json"
    scale = tmp_path / "scale-results.json"
    scale.write_text(json.dumps({"1000": {f"transforms {vendors.DAY}": {"wall_seconds": 24.1}}}))
    monkeypatch.setattr(vendors, "TRANSFORMS_FIGURE", figure)
    monkeypatch.setattr(vendors, "SCALE_RESULTS", scale)
    assert vendors._transform_seconds() == 24.1  # no make bench figure yet
    figure.write_text(json.dumps({"audit_date": str(vendors.DAY), "wall_seconds": 12.01}))
    assert vendors._transform_seconds() == 12.01
    figure.write_text(json.dumps({"audit_date": "2026-10-27", "wall_seconds": 9.0}))  # another day
    assert vendors._transform_seconds() == 24.1


def test_floor_line_scales_the_endpoints_seconds_a_get_to_the_conversions_gets() -> None:
    floor = {"gets": 3000, "seconds": 6.0, "ms_per_get": 2.0}
    line = vendors._floor_line(floor, 62_000, 12.0)
    assert "62000 GETs need at least 124.0 s" in line  # 2 ms x 62,000
    assert "the target allows 3.0 s" in line  # 25 % of 12 s
    assert "allows" not in vendors._floor_line(floor, 62_000, None)


def test_endpoint_floor_fetches_every_sampled_object_from_the_endpoint(s3_bucket: S3Bucket) -> None:
    storage = s3_bucket.storage()
    keys = [
        f"landing/connect/Analysis/Voice/2026/10/28/c{i}_analysis_2026-10-28T10:00:0{i}Z.json"
        for i in range(5)
    ]
    for key in keys:
        storage.write_bytes(key, b"{}")
    floor = vendors._endpoint_floor(s3_bucket.endpoint_url, s3_bucket.name, keys)
    assert floor["gets"] == 5 and floor["seconds"] > 0
    assert floor["ms_per_get"] * 5 / 1000 == pytest.approx(floor["seconds"], abs=0.006)  # seconds: 2 places
    with pytest.raises(SystemExit, match="could not fetch 1 objects"):
        vendors._endpoint_floor(s3_bucket.endpoint_url, s3_bucket.name, [*keys, "landing/missing.json"])


def test_count_reads_counts_each_object_read(tmp_path: Path) -> None:
    from storage import open_storage

    (tmp_path / "a.json").write_bytes(b"{}")
    storage = open_storage(str(tmp_path))
    gets = vendors._count_reads(storage)
    assert storage.read_bytes("a.json") == b"{}" and storage.read_bytes("a.json") == b"{}"
    assert gets == [2]
