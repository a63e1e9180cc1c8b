"""The landing area follows the contract layout and every export is readable."""

from __future__ import annotations

import gzip
import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from generator_exports import BASE, EXPORT_KEY, export_keys, plants, read_raw

ENTITIES = ("tickets", "ticket_events", "calls")


def test_every_data_file_follows_the_contract_path(faulty_root: Path) -> None:
    keys = export_keys(faulty_root)
    assert keys
    bad = [k for k in keys if not EXPORT_KEY.match(k)]
    assert bad == []
    days = {date.fromisoformat(EXPORT_KEY.match(k).group(2)) for k in keys}  # type: ignore[union-attr]
    assert min(days) >= BASE.start_date
    assert max(days) == BASE.end_date


def test_each_export_folder_has_a_success_marker(faulty_root: Path) -> None:
    folders = {k.rsplit("/", 1)[0] for k in export_keys(faulty_root)}
    missing = [f for f in folders if not (faulty_root / f / "_SUCCESS").exists()]
    assert missing == []
    assert {f.split("/")[0] for f in folders} == set(ENTITIES)


def test_only_underscore_objects_besides_exports(faulty_root: Path) -> None:
    """Ingestion ignores `_`-prefixed names: the markers and the generator's own folder."""
    others = {
        p.relative_to(faulty_root).as_posix()
        for p in faulty_root.rglob("*")
        if p.is_file() and p.relative_to(faulty_root).as_posix() not in export_keys(faulty_root)
    }
    assert all(k.startswith("_generator/") or k.endswith("/_SUCCESS") for k in others)
    assert "_generator/plants.json" in others


def test_all_formats_used_and_days_split(faulty_root: Path) -> None:
    keys = export_keys(faulty_root)
    extensions = {EXPORT_KEY.match(k).group(4) for k in keys}  # type: ignore[union-attr]
    assert extensions == {"parquet", "csv", "csv.gz", "jsonl", "jsonl.gz"}
    per_folder: dict[str, int] = {}
    for key in keys:
        folder = key.rsplit("/", 1)[0]
        per_folder[folder] = per_folder.get(folder, 0) + 1
    assert max(per_folder.values()) >= 3


def test_every_file_is_readable_except_the_planted_corrupt_one(faulty_root: Path) -> None:
    corrupt = plants(faulty_root)["faults"]["corrupt_file"]
    for key in export_keys(faulty_root):
        if key == corrupt:
            with pytest.raises((EOFError, gzip.BadGzipFile, OSError)):
                read_raw(faulty_root / key)
        else:
            assert read_raw(faulty_root / key).height > 0, key


def test_the_redelivered_file_is_a_byte_copy_under_another_name(faulty_root: Path) -> None:
    redelivered = plants(faulty_root)["faults"]["redelivered_file"]
    assert redelivered["copy"] != redelivered["original"]
    original = (faulty_root / redelivered["original"]).read_bytes()
    assert (faulty_root / redelivered["copy"]).read_bytes() == original


def test_text_timestamps_carry_varied_offsets(faulty_root: Path) -> None:
    suffixes: set[str] = set()
    for key in export_keys(faulty_root):
        if key.startswith("tickets/") and not key.endswith("parquet"):
            created = read_raw(faulty_root / key)["created_at"].cast(pl.String).drop_nulls()
            suffixes |= {m.group(0) for v in created.to_list() if (m := re.search(r"(Z|[+-]\d\d:\d\d)$", v))}
    assert {"Z", "+00:00", "-05:00", "+02:00"} <= suffixes


def test_parquet_timestamps_are_utc_typed_when_the_part_is_clean(clean_root: Path) -> None:
    parquet = [k for k in export_keys(clean_root) if k.endswith(".parquet")]
    assert parquet
    schema = pl.read_parquet_schema(clean_root / parquet[0])
    assert pl.Datetime("us", "UTC") in schema.values()


def test_tickets_are_exported_again_when_they_change(clean: dict[str, pl.DataFrame]) -> None:
    tickets = clean["tickets"].sort("ticket_id", "export_date")
    per_ticket = tickets.group_by("ticket_id").agg(
        days=pl.col("export_date").n_unique(),
        rows=pl.len(),
        increasing=(pl.col("updated_at").diff().drop_nulls() > timedelta(0)).all(),
    )
    assert per_ticket["rows"].max() == per_ticket["days"].max()  # one version per ticket and day
    assert (per_ticket["days"] >= 2).mean() > 0.8  # type: ignore[operator]
    assert per_ticket["increasing"].all()
    # Each version is exported on its updated_at day (UTC).
    assert (tickets["updated_at"].dt.date() == tickets["export_date"]).all()


def test_ticket_exports_gain_an_unknown_column_from_the_drift_date(
    faulty_root: Path, clean_root: Path
) -> None:
    drift = plants(faulty_root)["faults"]["schema_drift"]
    start = date.fromisoformat(drift["from_export_date"])
    assert BASE.start_date < start <= BASE.end_date
    for key in export_keys(faulty_root):
        match = EXPORT_KEY.match(key)
        if match and match.group(1) == "tickets":
            has_column = drift["column"] in read_raw(faulty_root / key).columns
            assert has_column == (date.fromisoformat(match.group(2)) >= start), key
    clean_tickets = [k for k in export_keys(clean_root) if k.startswith("tickets/")]
    assert all(drift["column"] not in read_raw(clean_root / k).columns for k in clean_tickets)


def test_optional_ticket_fields_are_sometimes_absent(clean: dict[str, pl.DataFrame]) -> None:
    tickets = clean["tickets"]
    assert {"new", "open", "pending", "on_hold", "solved", "closed"} <= set(tickets["status"].unique())
    missing_priority = tickets.filter(pl.col("priority").is_null())
    assert 0 < missing_priority.height < tickets.height * 0.1
    assert tickets["csat_score"].null_count() > 0
    assert set(tickets["csat_score"].drop_nulls().unique()) == {1, 2, 3, 4, 5}
