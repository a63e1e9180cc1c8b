"""Each rejected row is published once: in the quarantine partition of its object's export day."""

from __future__ import annotations

from datetime import date

import polars as pl

from flows.daily import own_exports_only

D = date(2026, 3, 9)


def test_a_day_publishes_only_the_rejections_of_its_own_exports() -> None:
    files = pl.DataFrame(
        {
            "object_key": ["t/d8.csv", "t/d9.csv", "c/d9.csv", "t/d10.csv"],
            "export_date": [date(2026, 3, 8), D, D, date(2026, 3, 10)],
        }
    )
    quarantine = pl.DataFrame(
        {
            "object_key": ["t/d8.csv", "t/d9.csv", "t/d9.csv", "c/d9.csv", "t/d10.csv"],
            "row_number": [4, 2, 7, None, 1],
        }
    )
    got = own_exports_only(quarantine, files, D)
    assert got.rows() == [("t/d9.csv", 2), ("t/d9.csv", 7), ("c/d9.csv", None)]


def test_over_consecutive_days_every_rejection_is_published_exactly_once() -> None:
    """Each day reads a range of export days (here the two before it and itself); the union of
    the days' partitions is every rejection, once."""
    days = [date(2026, 3, d) for d in range(1, 8)]
    files = pl.DataFrame({"object_key": [f"o{d.day}" for d in days], "export_date": days})
    quarantine = pl.DataFrame(
        {"object_key": [f"o{d.day}" for d in days for _ in range(d.day)], "row_number": list(range(28))}
    )
    published = []
    for day in days[2:]:
        in_range = files.filter(pl.col("export_date").is_between(date(2026, 3, day.day - 2), day))
        read = quarantine.join(in_range.select("object_key"), on="object_key", how="semi")
        published.append(own_exports_only(read, in_range, day))
    rows = pl.concat(published)
    assert (
        rows.height
        == rows.unique().height
        == quarantine.filter(~pl.col("object_key").is_in(["o1", "o2"])).height
    )
