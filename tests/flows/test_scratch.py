"""Scratch hygiene (storage/scratch.py): a run's local scratch folders are private, removed
when the run leaves them and, after a kill, at the next start; and a killed ingest leaves no
raw export value anywhere outside the landing and the store."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from flow_fixtures import PSEUDONYM_KEY

from storage.scratch import PREFIX, scratch_dir, sweep


def test_a_scratch_folder_is_private_and_removed_on_success_and_on_failure(tmp_path):
    with scratch_dir(str(tmp_path)) as path:
        assert path.parent == tmp_path and path.name.startswith(f"{PREFIX}{os.getpid()}-")
        assert path.stat().st_mode & 0o777 == 0o700
        (path / "results.json").write_text("{}")
    assert not path.exists()
    with pytest.raises(RuntimeError), scratch_dir(str(tmp_path)) as failing:
        raise RuntimeError("the run failed")
    assert not failing.exists()


def test_the_next_start_sweeps_the_folders_of_dead_runs_only(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / f"{PREFIX}{dead.stdout.strip()}-abc"
    alive = tmp_path / f"{PREFIX}{os.getpid()}-def"
    other = tmp_path / "someone-elses-folder"
    for folder in (stale, alive, other):
        folder.mkdir()
    assert sweep(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name])


def _raw_values(landing: Path) -> set[str]:
    """Customer ids and ticket subjects as exported (what must never sit in scratch files)."""
    values: set[str] = set()
    for path in sorted((landing / "tickets").rglob("*.csv"))[:3]:
        frame = pl.read_csv(path, infer_schema=False)
        for column in ("customer_id", "subject"):
            if column in frame.columns:
                values |= {v for v in frame[column].drop_nulls().to_list() if len(v) >= 6}
    return values


@pytest.mark.integration
def test_a_killed_ingest_leaves_no_raw_data_outside_the_landing_and_the_store(flow_exports, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(flow_exports, landing)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    raw = _raw_values(landing)
    assert len(raw) > 20
    code = (
        "import sys; from configs.settings import load_settings; from flows.ingest import ingest_exports\n"
        "s = load_settings(landing_uri=sys.argv[1], warehouse_uri=sys.argv[2], reports_uri=sys.argv[3])\n"
        "ingest_exports(s, s.policy(), 'doomed-run')\n"
    )
    args = [sys.executable, "-c", code, str(landing), str(tmp_path / "wh"), str(tmp_path / "reports")]
    env = {**os.environ, "TMPDIR": str(scratch), "AUDIT_PSEUDONYM_KEY": PSEUDONYM_KEY}
    run = subprocess.Popen(args, env=env, cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 120
    while not list(scratch.glob(f"{PREFIX}*/data_docs/**/*.json")):  # mid-validation: its scratch is full
        assert run.poll() is None, "the ingest ended before it could be killed"
        assert time.monotonic() < deadline, "the ingest never wrote scratch files"
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    left = [p for p in scratch.rglob("*") if p.is_file()]
    assert left, "the kill came after the scratch folder was removed: nothing was checked"
    for path in left:
        text = path.read_bytes().decode("utf-8", errors="replace")
        found = sorted(v for v in raw if v in text)
        assert not found, f"{path.relative_to(scratch)} holds raw values such as {found[:2]}"
    (folder,) = scratch.glob(f"{PREFIX}*")
    assert folder.stat().st_mode & 0o777 == 0o700
    assert sweep(scratch) == [folder]  # the next run's start removes what the kill left
