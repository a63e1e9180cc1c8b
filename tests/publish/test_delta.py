"""Delta publishing on a local folder: per-day predicate overwrite, history, properties."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

from catalogue import AUDIT_TABLES, TABLES
from configs.settings import S3Settings
from warehouse.delta import (
    TABLE_PROPERTIES,
    publish_day,
    publish_table,
    read_table,
    storage_options,
    sync_descriptions,
    table_history,
    table_uri,
    typical_volumes,
)

D1, D2, D3 = dt.date(2026, 11, 20), dt.date(2026, 11, 21), dt.date(2026, 11, 22)


def scorecard(day: dt.date, agents: list[str], run_id: str = "r1") -> pl.DataFrame:
    return pl.DataFrame(
        {"audit_date": [day] * len(agents), "agent_id": agents, "contacts": list(range(1, len(agents) + 1))},
        schema={"audit_date": pl.Date, "agent_id": pl.String, "contacts": pl.Int64},
    ).with_columns(run_id=pl.lit(run_id))


def publish(wh, frame, day, run_id="r1"):
    return publish_table(
        "agent_scorecard", frame, warehouse_uri=str(wh), audit_date=day, run_id=run_id, policy_version="p1"
    )


def partition_files(wh, day: dt.date) -> list[str]:
    table = DeltaTable(table_uri(str(wh), "agent_scorecard"))
    return sorted(table.file_uris(partition_filters=[("audit_date", "=", day.isoformat())]))


def test_republishing_a_day_replaces_it_in_one_new_version(tmp_path):
    assert publish(tmp_path, scorecard(D1, ["A1", "A2"]), D1) == 0
    assert publish(tmp_path, scorecard(D1, ["A3"], "r2"), D1, "r2") == 1
    assert_frame_equal(read_table(str(tmp_path), "agent_scorecard"), scorecard(D1, ["A3"], "r2"))
    assert_frame_equal(
        read_table(str(tmp_path), "agent_scorecard", version=0),
        scorecard(D1, ["A1", "A2"]),
        check_row_order=True,
    )


def test_same_rows_twice_gives_identical_contents(tmp_path):
    frame = scorecard(D1, ["A1", "A2"])
    publish(tmp_path, frame.reverse(), D1)
    first = read_table(str(tmp_path), "agent_scorecard")
    publish(tmp_path, frame, D1)
    assert_frame_equal(read_table(str(tmp_path), "agent_scorecard"), first)
    assert first["agent_id"].to_list() == ["A1", "A2"]  # published in a stable order


def test_other_days_are_untouched(tmp_path):
    publish(tmp_path, scorecard(D1, ["A1"]), D1)
    publish(tmp_path, scorecard(D2, ["A1", "A2"]), D2)
    d2_files = partition_files(tmp_path, D2)
    publish(tmp_path, scorecard(D1, ["A9"], "r3"), D1, "r3")
    assert partition_files(tmp_path, D2) == d2_files
    assert_frame_equal(
        read_table(str(tmp_path), "agent_scorecard", audit_date=D2), scorecard(D2, ["A1", "A2"])
    )
    assert read_table(str(tmp_path), "agent_scorecard", audit_date=D1)["agent_id"].to_list() == ["A9"]


def test_an_empty_day_removes_stale_rows(tmp_path):
    publish(tmp_path, scorecard(D1, ["A1", "A2"]), D1)
    publish(tmp_path, scorecard(D2, ["A1"]), D2)
    assert publish(tmp_path, scorecard(D1, []), D1) == 2
    assert read_table(str(tmp_path), "agent_scorecard", audit_date=D1).height == 0
    assert read_table(str(tmp_path), "agent_scorecard", audit_date=D2).height == 1


def test_rows_of_another_day_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not on audit_date 2026-11-20"):
        publish(tmp_path, scorecard(D2, ["A1"]), D1)
    assert not (tmp_path / "agent_scorecard").exists()


def test_commit_metadata_and_history(tmp_path):
    publish(tmp_path, scorecard(D1, ["A1", "A2"]), D1, "run-a")
    publish(tmp_path, scorecard(D1, ["A1"], "run-b"), D1, "run-b")
    history = table_history(str(tmp_path), "agent_scorecard")
    assert history.select("version", "run_id", "policy_version", "audit_date", "row_count").rows() == [
        (0, "run-a", "p1", "2026-11-20", 2),
        (1, "run-b", "p1", "2026-11-20", 1),
    ]
    assert history["operation"].to_list() == ["WRITE", "WRITE"]
    assert all("audit_date = '2026-11-20'" in p for p in history["predicate"].to_list())


def test_history_is_kept_for_years(tmp_path):
    publish(tmp_path, scorecard(D1, ["A1"]), D1)
    config = DeltaTable(table_uri(str(tmp_path), "agent_scorecard")).metadata().configuration
    assert {k: config[k] for k in TABLE_PROPERTIES} == TABLE_PROPERTIES
    assert TABLE_PROPERTIES["delta.logRetentionDuration"] == "interval 3650 days"


def test_new_columns_are_added_not_refused(tmp_path):
    publish(tmp_path, scorecard(D1, ["A1"]), D1)
    wider = scorecard(D2, ["A1"]).with_columns(reopen_rate=pl.lit(0.5))
    publish(tmp_path, wider, D2)
    table = read_table(str(tmp_path), "agent_scorecard")
    assert table["reopen_rate"].to_list() == [None, 0.5]


def test_a_day_needs_every_table(tmp_path):
    with pytest.raises(ValueError, match="missing table"):
        publish_day(
            {"agent_scorecard": scorecard(D1, ["A1"])},
            warehouse_uri=str(tmp_path),
            audit_date=D1,
            run_id="r1",
            policy_version="p1",
        )
    assert list(tmp_path.iterdir()) == []
    assert len(AUDIT_TABLES) == 9


@pytest.mark.parametrize(
    ("endpoint", "allow_http"),
    [(None, None), ("http://127.0.0.1:9000", "true"), ("https://s3.example.com", None)],
)
def test_s3_options_never_allow_unsafe_rename(endpoint, allow_http):
    options = storage_options("s3://bucket/warehouse", S3Settings(endpoint_url=endpoint, region="eu-west-1"))
    assert options is not None
    assert options["AWS_REGION"] == "eu-west-1"
    assert options.get("AWS_ALLOW_HTTP") == allow_http
    assert options.get("AWS_ENDPOINT_URL") == endpoint
    assert not any("UNSAFE_RENAME" in k.upper() or "LOCKING" in k.upper() for k in options)
    assert storage_options("/tmp/warehouse", S3Settings()) is None


@pytest.mark.parametrize(
    ("before", "expected"), [(D1, {}), (D2, {"agent_scorecard": 2}), (D3, {"agent_scorecard": 3})]
)
def test_typical_volume_is_the_median_of_recent_days(tmp_path, before, expected):
    publish(tmp_path, scorecard(D1, ["A1", "A2"]), D1)
    publish(tmp_path, scorecard(D2, ["A1", "A2", "A3", "A4"]), D2)
    publish(tmp_path, scorecard(D3, ["A1"] * 0), D3)  # an empty day has no rows to count
    assert typical_volumes(str(tmp_path), before) == expected


def test_typical_volume_window_excludes_old_days(tmp_path):
    publish(tmp_path, scorecard(D1, ["A1"]), D1)
    assert typical_volumes(str(tmp_path), D1 + dt.timedelta(days=28)) == {"agent_scorecard": 1}
    assert typical_volumes(str(tmp_path), D1 + dt.timedelta(days=29)) == {}


def test_warning_baselines_come_from_policy_tickets_and_history(tmp_path):
    from configs.settings import load_settings
    from warehouse.publish import suite_params

    settings = load_settings(warehouse_uri=str(tmp_path))
    publish(tmp_path, scorecard(D1, ["A1", "A2"]), D1)
    tickets = pl.DataFrame({"category": ["general", None, "billing"]})
    params = suite_params(settings, settings.policy(), D2, {"tickets": tickets})
    assert params.typical_rows == {"agent_scorecard": 2}
    assert list(params.known_categories) == [
        "account",
        "billing",
        "general",
        "hardware",
        "outage",
        "shipping",
    ]
    assert list(params.known_currencies) == ["EUR", "USD"]


def test_untyped_empty_columns_get_a_delta_type(tmp_path):
    frame = pl.DataFrame({"audit_date": [D1], "agent_id": ["A1"], "note_ids": [[]], "spare": [None]})
    assert frame.schema["note_ids"] == pl.List(pl.Null) and frame.schema["spare"] == pl.Null
    publish(tmp_path, frame, D1)
    table = read_table(str(tmp_path), "agent_scorecard")
    assert table.schema["note_ids"] == pl.List(pl.String) and table.schema["spare"] == pl.String
    # A later day with real values keeps the table's types.
    publish(
        tmp_path,
        pl.DataFrame({"audit_date": [D2], "agent_id": ["A2"], "note_ids": [["x"]], "spare": ["y"]}),
        D2,
    )
    assert read_table(str(tmp_path), "agent_scorecard", audit_date=D2)["note_ids"].to_list() == [["x"]]


def _comments(wh) -> dict[str, str | None]:
    table = DeltaTable(table_uri(str(wh), "agent_scorecard"))
    return {f.name: dict(f.metadata or {}).get("comment") for f in table.schema().fields}


def test_tables_carry_the_catalogues_descriptions_for_bi_tools(tmp_path):
    publish(tmp_path, scorecard(D1, ["A1"]), D1)
    spec = TABLES["agent_scorecard"]
    table = DeltaTable(table_uri(str(tmp_path), "agent_scorecard"))
    assert table.metadata().name == "agent_scorecard"
    assert table.metadata().description == f"One row per {spec.grain}. {spec.description}"
    assert _comments(tmp_path)["contacts"] == spec.column("contacts").description
    # A column added later gets its comment too; stored comments are kept as they are.
    publish(tmp_path, scorecard(D2, ["A1"]).with_columns(reopen_rate=pl.lit(0.5)), D2)
    assert _comments(tmp_path)["reopen_rate"] == spec.column("reopen_rate").description
    assert _comments(tmp_path)["contacts"] == spec.column("contacts").description


def test_sync_descriptions_rewrites_what_drifted(tmp_path):
    publish(tmp_path, scorecard(D1, ["A1"]), D1)
    table = DeltaTable(table_uri(str(tmp_path), "agent_scorecard"))
    table.alter.set_column_metadata("contacts", {"comment": "an old wording"})
    table.alter.set_table_description("old")
    assert sync_descriptions(str(tmp_path)) == {"agent_scorecard": 2}
    assert _comments(tmp_path)["contacts"] == TABLES["agent_scorecard"].column("contacts").description
    assert sync_descriptions(str(tmp_path)) == {"agent_scorecard": 0}
