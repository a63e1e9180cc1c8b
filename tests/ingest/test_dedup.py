"""transforms/dedup.py: the contract's de-duplication, duplicates, superseded versions, conflicts."""

from __future__ import annotations

from datetime import date

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_builders import call, conformed, event, ticket
from polars.testing import assert_frame_equal

from transforms.dedup import CONFLICT, DUPLICATE, KEPT, SUPERSEDED, deduplicate
from transforms.schemas import CALLS, TICKET_EVENTS, TICKETS, EntitySchema
from transforms.schemas import quarantine as q
from transforms.staging import stage

D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)


def key_of(schema: EntitySchema, day: date, name: str) -> str:
    return f"{schema.name}/export_date={day.isoformat()}/{name}"


def delivery(schema: EntitySchema, day: date, name: str, rows: list[dict[str, str | None]]) -> pl.LazyFrame:
    """One export file's rows, conformed for staging."""
    return conformed(rows, schema, key=key_of(schema, day, name), day=day)


def staged(schema: EntitySchema, *deliveries: pl.LazyFrame) -> pl.DataFrame:
    accepted, quarantined = pl.collect_all(
        stage(pl.concat(deliveries), schema, naive_timestamps_as_utc=False)
    )
    assert quarantined.height == 0, "test rows must be valid"
    return accepted


def dedup(schema: EntitySchema, *deliveries: pl.LazyFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    result = deduplicate(staged(schema, *deliveries).lazy(), schema)
    canonical, outcomes, quarantined = pl.collect_all(result)
    return canonical, outcomes, quarantined


def outcomes_of(outcomes: pl.DataFrame) -> list[tuple[str, int, str]]:
    return sorted(outcomes.select("source_key", "source_row", "dedup_outcome").rows())


def test_the_greatest_updated_at_wins_whatever_the_delivery_order() -> None:
    newer = delivery(TICKETS, D1, "a.csv", [ticket(status="solved", updated_at="2026-03-02T12:00:00Z")])
    older = delivery(TICKETS, D2, "a.csv", [ticket(status="open", updated_at="2026-03-02T11:00:00Z")])
    canonical, outcomes, quarantined = dedup(TICKETS, newer, older)
    assert canonical.select("ticket_id", "status", "source_key").rows() == [
        ("T1", "solved", key_of(TICKETS, D1, "a.csv"))
    ]
    assert outcomes_of(outcomes) == [
        (key_of(TICKETS, D1, "a.csv"), 1, KEPT),
        (key_of(TICKETS, D2, "a.csv"), 1, SUPERSEDED),
    ]
    assert quarantined.height == 0


def test_an_updated_at_tie_goes_to_the_later_export_date() -> None:
    first = delivery(TICKETS, D1, "z.csv", [ticket(status="pending")])
    second = delivery(TICKETS, D2, "a.csv", [ticket(status="on_hold")])
    canonical, outcomes, quarantined = dedup(TICKETS, second, first)
    assert canonical["status"].to_list() == ["on_hold"]
    assert outcomes_of(outcomes) == [
        (key_of(TICKETS, D1, "z.csv"), 1, SUPERSEDED),
        (key_of(TICKETS, D2, "a.csv"), 1, KEPT),
    ]
    assert quarantined.height == 0


def test_an_updated_at_and_export_date_tie_goes_to_the_later_file_name_and_calls_keep_their_outcome() -> None:
    part_a = delivery(CALLS, D1, "part-a.csv", [call(outcome="unresolved")])
    part_b = delivery(CALLS, D1, "part-b.csv", [call(outcome="resolved")])
    canonical, outcomes, _ = dedup(CALLS, part_b, part_a)
    assert canonical["outcome"].to_list() == ["resolved"]
    assert outcomes_of(outcomes) == [
        (key_of(CALLS, D1, "part-a.csv"), 1, SUPERSEDED),
        (key_of(CALLS, D1, "part-b.csv"), 1, KEPT),
    ]


def test_an_exact_redelivery_is_a_duplicate_and_the_later_copy_is_kept() -> None:
    rows = [ticket(), ticket(ticket_id="T2")]
    canonical, outcomes, quarantined = dedup(
        TICKETS, delivery(TICKETS, D1, "a.csv", rows), delivery(TICKETS, D2, "a.csv", rows)
    )
    assert canonical.select("ticket_id", "source_key").rows() == [
        ("T1", key_of(TICKETS, D2, "a.csv")),
        ("T2", key_of(TICKETS, D2, "a.csv")),
    ]
    assert outcomes_of(outcomes) == [
        (key_of(TICKETS, D1, "a.csv"), 1, DUPLICATE),
        (key_of(TICKETS, D1, "a.csv"), 2, DUPLICATE),
        (key_of(TICKETS, D2, "a.csv"), 1, KEPT),
        (key_of(TICKETS, D2, "a.csv"), 2, KEPT),
    ]
    assert quarantined.height == 0


def test_same_content_written_differently_is_still_a_duplicate() -> None:
    plain = delivery(TICKETS, D1, "a.csv", [ticket(updated_at="2026-03-02T10:00:00Z", priority=None)])
    offset = delivery(
        TICKETS, D2, "a.csv", [ticket(updated_at="2026-03-02T12:00:00+02:00", priority="NORMAL")]
    )
    _, outcomes, _ = dedup(TICKETS, plain, offset)
    assert sorted(outcomes["dedup_outcome"].to_list()) == [DUPLICATE, KEPT]


def test_a_key_repeated_in_one_file_with_the_same_version_but_other_content_is_a_conflict() -> None:
    key = key_of(TICKETS, D1, "a.csv")
    rows = [ticket(status="open"), ticket(ticket_id="T2"), ticket(status="pending", team_id="team-1")]
    canonical, outcomes, quarantined = dedup(TICKETS, delivery(TICKETS, D1, "a.csv", rows))
    assert canonical.select("ticket_id", "status", "source_row").rows() == [
        ("T1", "pending", 3),
        ("T2", "open", 2),
    ]
    assert outcomes_of(outcomes) == [(key, 1, CONFLICT), (key, 2, KEPT), (key, 3, KEPT)]
    expected = pl.DataFrame(
        {
            "entity": ["tickets"],
            "object_key": [key],
            "row_number": [1],
            "reason": [q.CONFLICTING_DUPLICATE],
            "detail": [f"ticket_id: same key as the kept row 3 of {key}; differs in status, team_id"],
            "source_row": [1],
        }
    )
    assert_frame_equal(quarantined, expected)


def test_an_older_version_in_the_same_file_is_superseded_not_a_conflict() -> None:
    rows = [ticket(status="open"), ticket(status="solved", updated_at="2026-03-02T11:00:00Z")]
    _, outcomes, quarantined = dedup(TICKETS, delivery(TICKETS, D1, "a.csv", rows))
    assert outcomes.sort("source_row")["dedup_outcome"].to_list() == [SUPERSEDED, KEPT]
    assert quarantined.height == 0


def test_an_event_redelivered_identically_is_a_duplicate_of_the_first_delivery() -> None:
    canonical, outcomes, quarantined = dedup(
        TICKET_EVENTS,
        delivery(TICKET_EVENTS, D2, "b.jsonl", [event()]),
        delivery(TICKET_EVENTS, D1, "a.jsonl", [event()]),
    )
    assert canonical["source_key"].to_list() == [key_of(TICKET_EVENTS, D1, "a.jsonl")]
    assert outcomes_of(outcomes) == [
        (key_of(TICKET_EVENTS, D1, "a.jsonl"), 1, KEPT),
        (key_of(TICKET_EVENTS, D2, "b.jsonl"), 1, DUPLICATE),
    ]
    assert quarantined.height == 0


def test_an_event_delivered_again_with_other_content_keeps_the_first_delivery() -> None:
    first = delivery(TICKET_EVENTS, D1, "a.jsonl", [event(public="false")])
    changed = delivery(TICKET_EVENTS, D2, "a.jsonl", [event(public="true")])
    again = delivery(TICKET_EVENTS, D3, "a.jsonl", [event(public="false")])
    canonical, outcomes, quarantined = dedup(TICKET_EVENTS, again, changed, first)
    kept = key_of(TICKET_EVENTS, D1, "a.jsonl")
    assert canonical.select("public", "export_date").rows() == [(False, D1)]
    assert outcomes_of(outcomes) == [
        (kept, 1, KEPT),
        (key_of(TICKET_EVENTS, D2, "a.jsonl"), 1, CONFLICT),
        (key_of(TICKET_EVENTS, D3, "a.jsonl"), 1, DUPLICATE),
    ]
    assert quarantined.select("object_key", "row_number", "reason", "detail").rows() == [
        (
            key_of(TICKET_EVENTS, D2, "a.jsonl"),
            1,
            q.CONFLICTING_DUPLICATE,
            f"event_id: same key as the kept row 1 of {kept}; differs in public",
        )
    ]


def test_an_edited_copy_right_after_its_event_in_one_file_is_the_conflict() -> None:
    key = key_of(TICKET_EVENTS, D1, "a.csv")
    rows = [event(body="note"), event(body="note (edited)", occurred_at="2026-03-02T09:31:00Z")]
    canonical, outcomes, quarantined = dedup(TICKET_EVENTS, delivery(TICKET_EVENTS, D1, "a.csv", rows))
    assert canonical.select("body", "source_row").rows() == [("note", 1)]
    assert quarantined.select("row_number", "detail").rows() == [
        (2, f"event_id: same key as the kept row 1 of {key}; differs in occurred_at, body")
    ]
    assert outcomes_of(outcomes) == [(key, 1, KEPT), (key, 2, CONFLICT)]


VERSIONS = ["2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z"]
copy_strategy = st.tuples(
    st.sampled_from(["T1", "T2", "T3"]),  # key
    st.sampled_from(range(len(VERSIONS))),  # version
    st.sampled_from(["open", "pending"]),  # content
    st.sampled_from([(D1, "a.csv"), (D1, "b.csv"), (D2, "a.csv")]),  # delivery
)


@settings(max_examples=40, deadline=None)
@given(st.lists(copy_strategy, min_size=1, max_size=15))
def test_every_row_gets_one_outcome_and_every_key_one_kept_row_of_the_best_rank(
    copies: list[tuple[str, int, str, tuple[date, str]]],
) -> None:
    files: dict[tuple[date, str], list[dict[str, str | None]]] = {}
    for key, version, status, where in copies:
        files.setdefault(where, []).append(ticket(ticket_id=key, updated_at=VERSIONS[version], status=status))
    frames = [delivery(TICKETS, day, name, rows) for (day, name), rows in sorted(files.items())]
    accepted = staged(TICKETS, *frames)
    canonical, outcomes, quarantined = pl.collect_all(deduplicate(accepted.lazy(), TICKETS))

    assert outcomes.height == len(copies)
    assert outcomes.select("source_key", "source_row").is_duplicated().sum() == 0
    assert sorted(canonical["ticket_id"].to_list()) == sorted({c[0] for c in copies})
    assert quarantined.height == (outcomes["dedup_outcome"] == CONFLICT).sum()
    best = accepted.sort("updated_at", "export_date", "source_key", "source_row", descending=True).unique(
        "ticket_id", keep="first", maintain_order=True
    )
    assert_frame_equal(canonical, best.sort("ticket_id"), check_row_order=False)


event_copy = st.tuples(
    st.sampled_from(["E1", "E2"]),
    st.sampled_from(["true", "false"]),  # content
    st.sampled_from([(D1, "a.csv"), (D1, "b.csv"), (D2, "a.csv")]),
)


@settings(max_examples=30, deadline=None)
@given(st.lists(event_copy, min_size=1, max_size=10))
def test_events_keep_their_first_delivery_and_quarantine_every_differing_copy(
    copies: list[tuple[str, str, tuple[date, str]]],
) -> None:
    files: dict[tuple[date, str], list[dict[str, str | None]]] = {}
    for event_id, public, where in copies:
        files.setdefault(where, []).append(event(event_id=event_id, public=public))
    accepted = staged(
        TICKET_EVENTS, *[delivery(TICKET_EVENTS, d, n, r) for (d, n), r in sorted(files.items())]
    )
    canonical, outcomes, quarantined = pl.collect_all(deduplicate(accepted.lazy(), TICKET_EVENTS))

    first = accepted.sort("export_date", "source_key", "source_row").unique("event_id", keep="first")
    assert_frame_equal(canonical, first.sort("event_id"))
    joined = accepted.join(first.select("event_id", kept_public="public"), on="event_id")
    # one conflict per distinct content that differs from the kept one; its repeats are duplicates
    differing = joined.filter(pl.col("public") != pl.col("kept_public")).select("event_id", "public")
    assert quarantined.height == (outcomes["dedup_outcome"] == CONFLICT).sum() == differing.n_unique()
    assert (outcomes["dedup_outcome"] == DUPLICATE).sum() + quarantined.height == len(
        copies
    ) - canonical.height
