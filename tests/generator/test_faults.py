"""Bad rows: every contract class, at about the requested share, and never at the good rows' expense."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from generator_exports import plants, read_entity

from transforms.schemas import ENTITIES
from transforms.schemas import quarantine as q

SHARE = 0.03
CLASSES = {
    "tickets": {
        q.MISSING_REQUIRED,
        q.BAD_ENUM,
        q.OUT_OF_RANGE,
        q.BAD_TIMESTAMP,
        q.NAIVE_TIMESTAMP,
        q.OUT_OF_ORDER,
    },
    "ticket_events": {
        q.MISSING_REQUIRED,
        q.BAD_ENUM,
        q.OUT_OF_RANGE,
        q.BAD_TIMESTAMP,
        q.NAIVE_TIMESTAMP,
        q.CONFLICTING_DUPLICATE,
    },
    "calls": {
        q.MISSING_REQUIRED,
        q.BAD_ENUM,
        q.OUT_OF_RANGE,
        q.BAD_TIMESTAMP,
        q.NAIVE_TIMESTAMP,
        q.OUT_OF_ORDER,
    },
}


def _faulty(root: Path, entity: str) -> pl.DataFrame:
    faults = plants(root)["faults"]
    skip = (faults["corrupt_file"], faults["redelivered_file"]["copy"])
    return read_entity(root, entity, skip=skip)


def _content(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop("export_date", "source_key")


@pytest.mark.parametrize("entity", list(CLASSES))
def test_every_bad_input_class_is_planted(faulty_root: Path, entity: str) -> None:
    counts = plants(faulty_root)["faults"]["bad_rows"][entity]
    assert {k for k, n in counts.items() if n > 0} == CLASSES[entity]


@pytest.mark.parametrize("entity", list(CLASSES))
def test_good_rows_are_those_of_the_fault_free_run_and_the_rest_are_the_bad_rows(
    faulty_root: Path, clean: dict[str, pl.DataFrame], entity: str
) -> None:
    """Same seed with and without faults: the good rows are identical, so no planted behaviour
    is lost; every extra row is one of the reported bad rows, at about the requested share."""
    faulty = _content(_faulty(faulty_root, entity))
    good = _content(clean[entity])
    reported = sum(plants(faulty_root)["faults"]["bad_rows"][entity].values())
    extra = faulty.join(good, on=faulty.columns, how="anti", nulls_equal=True)
    assert good.join(faulty, on=good.columns, how="anti", nulls_equal=True).height == 0
    assert faulty.height == good.height + reported
    assert extra.height == reported
    assert SHARE * 0.8 < reported / good.height < SHARE * 1.2


def test_a_bad_row_keeps_the_key_of_a_real_row(faulty_root: Path, clean: dict[str, pl.DataFrame]) -> None:
    """Bad rows are broken copies: quarantining them leaves the original in place."""
    key = ENTITIES["calls"].key
    faulty = _content(_faulty(faulty_root, "calls"))
    extra = faulty.join(_content(clean["calls"]), on=faulty.columns, how="anti", nulls_equal=True)
    keyed = extra.filter(pl.col(key).is_not_null())
    assert keyed[key].is_in(clean["calls"][key].implode()).all()


def test_conflicting_duplicates_copy_internal_notes_only(
    faulty_root: Path, clean: dict[str, pl.DataFrame]
) -> None:
    """Same event_id as an internal note, other content: whatever the pipeline keeps, no planted
    behaviour depends on it."""
    faulty = _faulty(faulty_root, "ticket_events")
    copies = faulty.filter(pl.col("body").str.contains("edited after export"))
    expected = plants(faulty_root)["faults"]["bad_rows"]["ticket_events"][q.CONFLICTING_DUPLICATE]
    assert copies.height == expected > 0
    originals = clean["ticket_events"].join(copies, on="event_id", how="semi")
    assert originals.height == copies["event_id"].n_unique()
    assert (originals["event_type"] == "comment").all()
    assert (~originals["public"]).all()
    paired = originals.join(copies, on="event_id", suffix="_copy")
    assert (paired["occurred_at_copy"] != paired["occurred_at"]).all()
