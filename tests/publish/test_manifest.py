"""Manifest rows: input statistics, code version, config hash, reconciliation check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from configs.settings import load_settings
from expectations import run_manifest
from warehouse import manifest
from warehouse.data_docs import content_type
from warehouse.manifest import build_manifest, code_version, config_hash, git_commit, input_files_frame

COUNTS = ("rows_read", "rows_accepted", "rows_quarantined", "rows_duplicate")


def file_row(key: str, entity: str, counts: tuple[int, int, int, int]) -> dict:
    return {
        "entity": entity,
        "object_key": key,
        "etag": "e",
        "size": 1,
        **dict(zip(COUNTS, counts, strict=True)),
    }


def test_input_files_take_ingestion_shape_and_sort():
    frame = input_files_frame([file_row("b", "tickets", (2, 2, 0, 0)), file_row("a", "calls", (3, 1, 1, 1))])
    assert frame.select("entity", "object_key", "size_bytes", "rows_superseded").rows() == [
        ("calls", "a", 1, 0),
        ("tickets", "b", 1, 0),
    ]
    assert frame.schema == manifest.INPUT_FILE_SCHEMA


def test_missing_statistics_are_refused():
    with pytest.raises(ValueError, match="rows_duplicate"):
        input_files_frame(
            [{k: v for k, v in file_row("a", "calls", (1, 1, 0, 0)).items() if k != "rows_duplicate"}]
        )


def test_code_version_with_and_without_git(monkeypatch, tmp_path):
    assert git_commit(tmp_path) is None  # not a checkout
    monkeypatch.setattr(manifest, "running_code", lambda: (None, None))
    version, commit, label = code_version()
    assert (commit, label) == (None, version)
    monkeypatch.setattr(manifest, "running_code", lambda: ("0123456789abcdef0123", None))
    assert code_version()[2] == f"{version}+g0123456789ab"
    monkeypatch.setattr(manifest, "running_code", lambda: ("0123456789abcdef0123", "0a1b2c3d"))
    assert code_version()[2] == f"{version}+g0123456789ab.d0a1b2c3d"


def test_the_code_version_is_the_commit_the_process_started_with(monkeypatch):
    """A commit landing in the checkout while a run goes on does not relabel its later days."""
    first = code_version()
    monkeypatch.setattr(manifest, "git_commit", lambda repo=None: "fedcba9876543210fedc")
    monkeypatch.setattr(manifest, "uncommitted_digest", lambda repo=None: "ffffffff")
    assert code_version() == first


def test_uncommitted_changes_get_a_digest_of_their_own(tmp_path):
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "test@example.invalid")
    git("config", "user.name", "test")
    (tmp_path / "a.py").write_text("x = 1\n")
    git("add", "a.py")
    git("commit", "-q", "-m", "one")
    assert git_commit(tmp_path) is not None and manifest.uncommitted_digest(tmp_path) is None
    (tmp_path / "a.py").write_text("x = 2\n")
    two = manifest.uncommitted_digest(tmp_path)
    (tmp_path / "a.py").write_text("x = 3\n")
    three = manifest.uncommitted_digest(tmp_path)
    assert two is not None and three is not None and two != three  # other edits, another label
    (tmp_path / "a.py").write_text("x = 2\n")
    assert manifest.uncommitted_digest(tmp_path) == two


def test_config_hash_follows_policy_and_settings():
    settings = load_settings()
    policy = settings.policy()
    assert config_hash(settings, policy) == config_hash(load_settings(), settings.policy())
    assert config_hash(settings, policy) != config_hash(settings, policy.model_copy(update={"min_volume": 5}))
    assert config_hash(settings, policy) != config_hash(load_settings(warehouse_uri="elsewhere"), policy)


def test_manifest_row_totals_and_tables():
    settings = load_settings()
    row = build_manifest(
        run_id="r9",
        audit_date=dt.date(2026, 11, 20),
        started_at=dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC),
        input_files=input_files_frame(
            [file_row("a", "calls", (3, 1, 1, 1)), file_row("b", "calls", (2, 2, 0, 0))]
        ),
        policy=settings.policy(),
        settings=settings,
        status="succeeded",
        tables={"team_scorecard": (4, 10), "agent_scorecard": (7, 20)},
    ).row(0, named=True)
    assert tuple(row[c] for c in COUNTS) == (5, 3, 1, 1)
    assert row["input_files"] == 2
    assert row["tables"] == [
        {"table": "agent_scorecard", "version": 7, "rows": 20},
        {"table": "team_scorecard", "version": 4, "rows": 10},
    ]
    assert row["policy_version"] == "2026.11-1" and row["finished_at"] is None


counts = st.tuples(*(st.integers(0, 50) for _ in range(4)))


@given(st.lists(counts, max_size=6))
def test_reconciliation_check_matches_the_contract(files):
    settings = load_settings()
    frame = build_manifest(
        run_id="r",
        audit_date=dt.date(2026, 11, 20),
        started_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC),
        input_files=input_files_frame([file_row(f"k{i}", "calls", c) for i, c in enumerate(files)]),
        policy=settings.policy(),
        settings=settings,
    )
    checked = run_manifest.prepare(frame.lazy()).collect().row(0, named=True)
    assert checked["check_inputs_reconciled"] == all(r == a + q + d for r, a, q, d in files)
    total = [sum(c[i] for c in files) for i in range(4)]
    assert checked["check_totals_reconciled"] == (total[0] == total[1] + total[2] + total[3])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("static/styles/a.CSS", "text/css; charset=utf-8"),
        ("x.js", "application/javascript; charset=utf-8"),
        ("results/tickets.json", "application/json"),
        ("logo.png", "image/png"),
        ("logo.svg", "image/svg+xml"),
        ("font.otf", "font/otf"),
        ("README", "application/octet-stream"),
    ],
)
def test_content_types(name, expected):
    assert content_type(name) == expected


def test_manifest_frame_schema_is_stable():
    assert list(manifest.MANIFEST_SCHEMA)[:3] == ["audit_date", "run_id", "status"]
    assert manifest.MANIFEST_SCHEMA["inputs"] == pl.List(pl.Struct(manifest.INPUT_FILE_SCHEMA))


def test_reading_tables_does_not_load_great_expectations():
    import subprocess
    import sys

    code = (
        "import sys, warehouse.publish, warehouse.delta, report.build; "
        "print('great_expectations' in sys.modules)"
    )
    root = Path(__file__).parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, cwd=root
    )
    assert out.stdout.strip() == "False"
