"""The vendor benchmark's verdict: a share of the same day's transforms, never PASS unmeasured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import vendors

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
