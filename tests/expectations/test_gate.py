"""The gate: the manifest suite, the failure message, failing keys (runs index: test_data_docs_pages)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sample_frames as s
from hypothesis import given
from hypothesis import strategies as st

from configs.settings import load_settings
from expectations._results import sample_keys
from expectations.gate import ValidationFailed, run_validation
from warehouse.manifest import build_manifest, input_files_frame


def manifest(**overrides) -> pl.DataFrame:
    counts = ("rows_read", "rows_accepted", "rows_quarantined", "rows_duplicate")
    files = [
        {
            "entity": "tickets",
            "object_key": "k1",
            "etag": "e1",
            "size": 10,
            **dict(zip(counts, (5, 3, 1, 1), strict=True)),
        },
        {
            "entity": "calls",
            "object_key": "k2",
            "etag": "e2",
            "size": 10,
            **dict(zip(counts, (2, 2, 0, 0), strict=True)),
        },
    ]
    for i, changes in overrides.get("files", {}).items():
        files[i].update(changes)
    settings = load_settings()
    return build_manifest(
        run_id="r1",
        audit_date=s.DAY,
        started_at=dt.datetime(2026, 11, 21, 6, tzinfo=dt.UTC),
        input_files=input_files_frame(files),
        policy=settings.policy(),
        settings=settings,
        status=overrides.get("status", "pending"),
    )


def validate(frames, tmp_path):
    return run_validation(frames, run_id=s.RUN, audit_date=s.DAY, docs_dir=tmp_path)


def test_reconciled_manifest_passes(tmp_path):
    row = manifest().row(0, named=True)
    assert (row["rows_read"], row["rows_accepted"], row["rows_quarantined"], row["rows_duplicate"]) == (
        7,
        5,
        1,
        1,
    )
    assert validate({"run_manifest": manifest()}, tmp_path).critical_passed


@pytest.mark.parametrize(
    ("changes", "column"),
    [
        ({"files": {0: {"rows_read": 6}}}, "check_inputs_reconciled"),
        ({"status": "done"}, "status"),
    ],
)
def test_manifest_violations(changes, column, tmp_path):
    report = validate({"run_manifest": manifest(**changes)}, tmp_path)
    assert {f.column for f in report.critical_failures} >= {column}


def test_unreconciled_file_fails_per_file_even_when_totals_balance(tmp_path):
    # File 1 reads one row too many, file 2 one too few: the totals balance, the files do not.
    frame = manifest(files={0: {"rows_read": 6}, 1: {"rows_read": 1}})
    report = validate({"run_manifest": frame}, tmp_path)
    assert {f.column for f in report.critical_failures} == {"check_inputs_reconciled"}


def test_validation_failed_names_every_failed_expectation(tmp_path):
    tickets = s.tickets().with_columns(
        status=pl.when(pl.col("ticket_id") == "T2").then(pl.lit("x")).otherwise("status")
    )
    report = validate({"tickets": tickets, "run_manifest": manifest(files={0: {"rows_read": 6}})}, tmp_path)
    with pytest.raises(ValidationFailed) as info:
        report.raise_for_critical()
    message = str(info.value)
    assert "3 critical expectation(s) failed" in message
    assert "run_manifest.check_totals_reconciled" in message
    assert "tickets.status: expect_column_values_to_be_in_set (1 rows) e.g. [{'ticket_id': 'T2'}]" in message
    assert "run_manifest.check_inputs_reconciled: expect_column_values_to_be_in_set" in message
    assert info.value.report is report


def test_summary_and_results_are_written(tmp_path):
    validate({"tickets": s.tickets()}, tmp_path)
    assert (tmp_path / "summary.json").exists()
    assert (tmp_path / "results" / "tickets.json").exists()
    assert (tmp_path / "index.html").exists()
    assert (tmp_path / "validations" / "tickets.html").exists()


def test_sample_keys_from_both_result_shapes():
    names = ["contact_type", "contact_id"]
    columnar = {
        "unexpected_index_column_names": names,
        "unexpected_index_list": [{"contact_type": ["call", "ticket"], "contact_id": ["C1", "T1"]}],
    }
    listed = [
        {"status": "done", "contact_type": "call", "contact_id": "C1"},
        {"status": "x", "contact_type": "ticket", "contact_id": "T1"},
    ]
    rows = {"unexpected_index_column_names": names, "unexpected_index_list": listed}
    expected = ({"contact_type": "call", "contact_id": "C1"}, {"contact_type": "ticket", "contact_id": "T1"})
    assert sample_keys(columnar) == expected
    assert sample_keys(rows) == expected  # the domain value ("done") is not a key: dropped


@given(st.lists(st.text(max_size=8), max_size=30))
def test_sample_keys_are_capped_and_keep_order(ids):
    detail = {"unexpected_index_column_names": ["id"], "unexpected_index_list": [{"id": ids}]}
    assert sample_keys(detail) == tuple({"id": i} for i in ids[:10])


def test_gx_is_handed_only_the_columns_its_expectations_read():
    """GX's pandas engine holds every value as a Python object, so the gate hands it the columns
    the expectations read and the failing-row keys, nothing else (free text, lineage)."""
    import great_expectations.expectations as gxe

    from expectations.gate import _read_columns

    columns = ["k", "a", "body", "b", "c", "d", "e", "source_key"]
    expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column="a"),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="c", column_B="b"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["e", "d"]),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
    ]
    assert _read_columns(expectations, ("k",), columns) == ["k", "a", "b", "c", "d", "e"]
    # a table-level column-set check reads every column; a frame always keeps its rows
    column_set = gxe.ExpectTableColumnsToMatchSet(column_set=["a"], exact_match=False)
    assert _read_columns([*expectations, column_set], ("k",), columns) == columns
    assert _read_columns([gxe.ExpectTableRowCountToBeBetween(min_value=1)], (), columns) == columns
