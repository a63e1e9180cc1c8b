"""`audit backfill --resume`: a day already published from the same store snapshot, settings,
policy and code is not audited again, only reported; any other day is audited as usual."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from flows import daily
from warehouse.delta import read_table
from warehouse.publication import manifest_rows

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("prefect-quickstart")]

FIRST, SECOND, THIRD = date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)


def _backfill(
    places: dict[str, str], endpoint: str, start: date, end: date, **options: Any
) -> list[dict[str, Any]]:
    from flow_fixtures import audit_environment

    with pytest.MonkeyPatch.context() as mp:
        audit_environment(mp, endpoint)
        return daily.backfill(start=start, end=end, ingest=False, **places, **options)


def _manifest_rows_of(warehouse: str, day: date) -> int:
    return manifest_rows(warehouse, None, day, day).height


@pytest.fixture(scope="module")
def resumed(
    quickstart_run: tuple[Path, str], s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A copy of the quickstart; a backfill of FIRST..SECOND in it (killed, as far as the
    reports go: FIRST's report is deleted), then `--resume` over FIRST..THIRD. THIRD was last
    published by the quickstart, whose settings named other folders, so it is audited again."""
    root, _ = quickstart_run
    tmp_path = tmp_path_factory.mktemp("resume")
    for name in ("landing", "warehouse", "reports"):
        shutil.copytree(root / name, tmp_path / name)
    places = {name: str(tmp_path / name) for name in ("landing", "warehouse", "reports")}
    first_run = _backfill(places, s3_endpoint, FIRST, SECOND)
    report = tmp_path / "reports" / "audit_report" / f"audit_date={FIRST.isoformat()}" / "index.html"
    report.unlink()
    rows_before = {d: _manifest_rows_of(places["warehouse"], d) for d in (FIRST, SECOND, THIRD)}
    scorecard_version = read_table_version(places["warehouse"], "agent_scorecard")
    results = _backfill(places, s3_endpoint, FIRST, THIRD, resume=True)
    return {
        "places": places,
        "first_run": first_run,
        "results": results,
        "rows_before": rows_before,
        "scorecard_version": scorecard_version,
        "report": report,
        "endpoint": s3_endpoint,
    }


def read_table_version(warehouse: str, name: str) -> int:
    from deltalake import DeltaTable

    from warehouse.delta import table_uri

    return DeltaTable(table_uri(warehouse, name)).version()


def test_days_published_from_the_same_inputs_are_reported_not_audited(resumed: dict[str, Any]) -> None:
    results = {r["audit_date"]: r for r in resumed["results"]}
    assert list(results) == [FIRST.isoformat(), SECOND.isoformat(), THIRD.isoformat()]
    first_run_id = resumed["first_run"][0]["run_id"]
    for day in (FIRST, SECOND):
        assert results[day.isoformat()]["up_to_date"] is True
        assert results[day.isoformat()]["run_id"] == first_run_id  # still the day's publisher
    warehouse = resumed["places"]["warehouse"]
    for day in (FIRST, SECOND):  # no attempt, no manifest row: the day was not touched
        assert _manifest_rows_of(warehouse, day) == resumed["rows_before"][day]
    published = read_table(warehouse, "agent_scorecard").filter(pl.col("audit_date").is_in([FIRST, SECOND]))
    assert set(published["run_id"]) == {first_run_id}
    assert resumed["report"].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")  # rendered again


def test_a_day_published_from_other_settings_is_audited_again(resumed: dict[str, Any]) -> None:
    third = next(r for r in resumed["results"] if r["audit_date"] == THIRD.isoformat())
    assert "up_to_date" not in third and third["validation_passed"] is True
    warehouse = resumed["places"]["warehouse"]
    assert _manifest_rows_of(warehouse, THIRD) == resumed["rows_before"][THIRD] + 2  # intent, point
    assert read_table_version(warehouse, "agent_scorecard") == resumed["scorecard_version"] + 1
    third_rows = read_table(warehouse, "agent_scorecard").filter(pl.col("audit_date") == THIRD)
    assert set(third_rows["run_id"]) == {third["run_id"]}


def test_a_failed_day_still_leaves_the_days_left_alone_reported(resumed: dict[str, Any]) -> None:
    """A day that fails again on every resume (here: its computation raises) must not leave the
    days before it without reports: they are rendered, then the day's failure is raised."""
    places, report = resumed["places"], resumed["report"]
    fourth = date(2026, 3, 12)  # last published by the quickstart, under its own settings
    report.unlink()
    with pytest.MonkeyPatch.context() as mp:

        def fails(run: Any, audit_date: date, ingest: Any = None) -> Any:
            raise RuntimeError(f"{audit_date}: computed wrong")

        mp.setattr(daily, "compute_day", fails)
        with pytest.raises(RuntimeError, match="2026-03-12: computed wrong"):
            _backfill(places, resumed["endpoint"], FIRST, fourth, resume=True)
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.xdist_group("prefect")
def test_a_resume_through_s3_after_an_ingest_that_found_nothing_new_leaves_the_day_alone(
    prefect_harness: None, fresh_places: Any
) -> None:
    """Through the local S3 endpoint, each run ingesting first, as `audit backfill` does by
    default: the second ingest reads nothing, so the store snapshot and the stray folders it
    reports are the first run's, and the day is left alone."""
    places = fresh_places.flow_kwargs()
    first = daily.backfill(start=FIRST, end=FIRST, **places)
    manifest_before = manifest_rows(fresh_places.warehouse, fresh_places.settings, FIRST, FIRST).height
    again = daily.backfill(start=FIRST, end=FIRST, resume=True, **places)
    assert [(r["audit_date"], r.get("up_to_date"), r["run_id"]) for r in again] == [
        (FIRST.isoformat(), True, first[0]["run_id"])
    ]
    assert again[0]["ingest"] is not None  # what the ingest found, though no day was audited
    assert (
        manifest_rows(fresh_places.warehouse, fresh_places.settings, FIRST, FIRST).height == manifest_before
    )


def _listed_strays_of(warehouse: str, day: date) -> set[str]:
    from ingestion.ingest import is_folder_record

    quarantine = read_table(warehouse, "quarantine").filter(pl.col("audit_date") == day)
    return set(quarantine.filter(is_folder_record())["object_key"])


def test_a_resume_without_an_ingest_leaves_a_day_alone_with_the_stray_folders_it_lists(
    quickstart_run: tuple[Path, str], s3_endpoint: str, tmp_path: Path
) -> None:
    """A day published by a run that ingested lists the landing's stray folders in its
    quarantine. `--resume --no-ingest` lists no folder: it leaves the day alone, strays and all
    (an outside probe found every such day audited again and its stray records dropped, so the
    two forms of a resume undid each other)."""
    from flow_fixtures import audit_environment

    root, _ = quickstart_run
    for name in ("landing", "warehouse", "reports"):
        shutil.copytree(root / name, tmp_path / name)
    stray = tmp_path / "landing" / "tickets" / "export_date=2026-3-5"
    stray.mkdir()
    (stray / "tickets.csv").write_text("ticket_id\nT-1\n", encoding="utf-8")
    places = {name: str(tmp_path / name) for name in ("landing", "warehouse", "reports")}
    with pytest.MonkeyPatch.context() as mp:
        audit_environment(mp, s3_endpoint)
        first = daily.backfill(start=FIRST, end=FIRST, **places)  # ingests, so lists the stray
        listed = _listed_strays_of(places["warehouse"], FIRST)
        rows_before = _manifest_rows_of(places["warehouse"], FIRST)
        again = daily.backfill(start=FIRST, end=FIRST, ingest=False, resume=True, **places)
    assert listed == {"tickets/export_date=2026-3-5/"}
    assert [(r["audit_date"], r.get("up_to_date"), r["run_id"]) for r in again] == [
        (FIRST.isoformat(), True, first[0]["run_id"])
    ]
    assert _manifest_rows_of(places["warehouse"], FIRST) == rows_before
    assert _listed_strays_of(places["warehouse"], FIRST) == listed
