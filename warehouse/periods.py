"""Refreshing the period scorecards (weeks, months, rolling 28 days) from the published days.

A period row is computed only from whole published days: the daily scorecards and
`metric_observations` are read through the days' publish points (`read_published`), never
from a half-published attempt. Each row records the digest of the publish points it was
computed from (`source_digest`), so a refresh finds every stale period by comparing digests:
the periods of a day just published or re-audited, and those a run that stopped between its
publish point and its refresh left behind. A refresh therefore needs no list of days, a
backfill refreshes once at its end, and two refreshes in a row do nothing the second time.

The same refresh compares every agent with their peers over each rolling 28 days it recomputes
(`peer_comparison`, transforms/peers.py), and recomputes the `agents` and `teams` tables when an
ingest changed the canonical store (warehouse/dimensions.py).

Refreshes take the warehouse's `period-scorecards` lease, so two runs never interleave their commits;
the later one reads every day the earlier published. Each table gets one commit per refresh
(an overwrite of exactly the stale periods), validated by its suite first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from catalogue import PERIOD_TABLES, POLICY_VERSION, PUBLISHING_COLUMNS, RUN_ID, TABLES
from configs.policy import Policy
from configs.settings import AuditSettings
from storage.scratch import scratch_dir
from transforms.peers import (
    LIFECYCLE_SCHEMA,
    ROLLING_PEERS_SCHEMA,
    SUBJECT,
    cleared_rows,
    flag_lifecycle,
    rolling_peer_comparison,
)
from transforms.periods import Period, periods_containing, periods_frame, rolling_ending
from transforms.scorecards import period_scorecards
from warehouse.delta import (
    replace_rows,
    scan_table_if_exists,
)
from warehouse.dimensions import stale_dimensions, write_dimension
from warehouse.lock import hold
from warehouse.publication import POINT_COLUMNS, PublishPoint, manifest_rows, publish_points, read_published
from warehouse.publish import publishing_columns

log = logging.getLogger(__name__)

PERIODS_SCOPE = "period-scorecards"
# A refresh reads the days of at most this many calendar days at once (bounded memory on a
# year's backfill); the results are small and committed together.
CHUNK_DAYS = 62
# Periods rolled up per pass over a chunk's days: each measure observation is joined to every
# period of the pass holding its day (for its medians and p90s), so one pass over a month of
# rolling windows held each observation ~30 times: 17.5 GB for the 28 days of the 1,000-agent
# bench centre. 4 at a time: 5.9 GB and 50 s instead of 77 s (2 at a time: 5.8 GB; the rest is the
# peer comparison and the days read), identical tables.
PERIODS_PER_PASS = 4
SCORECARD_SOURCES = {"agent_period_scorecard": "agent_scorecard", "team_period_scorecard": "team_scorecard"}
# Commit order: the peers first, then the scorecards whose digests say what is up to date.
COMMIT_ORDER = ("peer_comparison", "team_period_scorecard", "agent_period_scorecard")
LIFECYCLE_TABLE = "concession_flag_lifecycle"  # recomputed whole from the published flags
CONCESSION_SUBJECT = ("subject_type", "subject_id")
if {*COMMIT_ORDER, LIFECYCLE_TABLE} != set(PERIOD_TABLES):
    raise RuntimeError(f"the refresh commits {COMMIT_ORDER}, the catalogue has {PERIOD_TABLES}")


@dataclass(frozen=True)
class PeriodRefresh:
    """What a refresh did: the periods it recomputed and each table's new version."""

    periods: tuple[Period, ...] = ()
    versions: Mapping[str, int] = field(default_factory=dict)
    rows: Mapping[str, int] = field(default_factory=dict)
    data_docs_url: str | None = None


def source_digest(period: Period, points: Mapping[dt.date, PublishPoint]) -> str:
    """Which publish point of each day the period's rows come from, as one short hash."""
    used = [f"{d.isoformat()}:{points[d].attempt}:{points[d].run_id}" for d in period.days() if d in points]
    return hashlib.sha256("|".join(used).encode()).hexdigest()[:16]


def stale_periods(
    points: Mapping[dt.date, PublishPoint], stored: Mapping[tuple[str, dt.date], str]
) -> list[Period]:
    """Periods holding a published day whose stored digest (any table's) differs from the one
    the publish points give now, or that no table has yet."""
    published = sorted(points)
    return [
        p
        for p in periods_containing(published, published)
        if stored.get((p.kind, p.start)) != source_digest(p, points)
    ]


def stored_digests(settings: AuditSettings) -> dict[tuple[str, dt.date], str]:
    """(period, start) -> digest, where both period scorecards agree; a period one of them lacks
    or holds with another digest is left out, so it is stale. (`peer_comparison` is committed
    first in a refresh, so a refresh that stopped part way leaves the scorecards stale too.)"""
    found: list[dict[tuple[str, dt.date], str]] = []
    for name in SCORECARD_SOURCES:
        scan = _scan(settings, name)
        if scan is None:
            return {}
        rows = scan.select("period", "period_start", "source_digest").unique().collect()
        found.append({(p, s): d for p, s, d in rows.iter_rows()})
    first, *others = found
    return {k: d for k, d in first.items() if all(o.get(k) == d for o in others)}


def chunks(periods: Sequence[Period], span_days: int = CHUNK_DAYS) -> list[list[Period]]:
    """Periods grouped so each group's days span at most `span_days` (a longer period alone)."""
    groups: list[list[Period]] = []
    for period in sorted(periods, key=lambda p: (p.start, p.end)):
        group = groups[-1] if groups else None
        if group and (max(period.end, *(p.end for p in group)) - group[0].start).days < span_days:
            group.append(period)
        else:
            groups.append([period])
    return groups


def _batches(periods: Sequence[Period], size: int) -> list[Sequence[Period]]:
    return [periods[i : i + size] for i in range(0, len(periods), size)]


def compute_periods(
    settings: AuditSettings,
    policy: Policy,
    periods: Sequence[Period],
    points: Mapping[dt.date, PublishPoint],
) -> dict[str, pl.DataFrame]:
    """Both period scorecards for `periods`, from the published days they hold, and the peer
    comparison of each rolling 28 days among them."""
    out: dict[str, list[pl.DataFrame]] = {name: [] for name in COMMIT_ORDER}
    for group in chunks(periods):
        first, last = min(p.start for p in group), max(p.end for p in group)
        in_range = {d: p for d, p in points.items() if first <= d <= last}
        observations = _published(settings, "metric_observations", first, last, in_range).lazy()
        dailies = {
            source: _published(settings, source, first, last, in_range).lazy()
            for source in SCORECARD_SOURCES.values()
        }
        rolled: dict[str, list[pl.DataFrame]] = {name: [] for name in SCORECARD_SOURCES}
        for batch in _batches(group, PERIODS_PER_PASS):
            frame = periods_frame(batch).with_columns(
                pl.Series("published_days", [sum(d in p for d in in_range) for p in batch], pl.Int64),
                pl.Series("source_digest", [source_digest(p, points) for p in batch], pl.String),
            )
            for name, source in SCORECARD_SOURCES.items():
                rolled[name].append(
                    period_scorecards(dailies[source], observations, frame, policy.min_volume).collect()
                )
        for name, frames in rolled.items():
            out[name].append(pl.concat(frames))
        out["peer_comparison"].append(
            rolling_peer_comparison(out["agent_period_scorecard"][-1], observations, policy.peers)
        )
    return {name: pl.concat(frames) if frames else _empty(name) for name, frames in out.items()}


def _published(
    settings: AuditSettings, name: str, first: dt.date, last: dt.date, points: dict[dt.date, PublishPoint]
) -> pl.DataFrame:
    frame = read_published(
        settings.warehouse_uri, name, settings.s3, audit_date=last, since=first, points=points
    )
    return frame if frame is not None else pl.DataFrame(schema=TABLES[name].schema)


def _empty(name: str) -> pl.DataFrame:
    return pl.DataFrame(schema=TABLES[name].schema)


def refresh_periods(settings: AuditSettings, policy: Policy, run_id: str) -> PeriodRefresh:
    """Recompute every stale period of both period scorecards, validate, and commit them.

    Also brings `concession_flag_lifecycle` up to date, and the `agents` and `teams` tables
    when an ingest changed the canonical store (warehouse/dimensions.py). Holds the `period-scorecards` lease
    (PERIODS_SCOPE). Raises ValidationFailed (nothing committed) when a critical
    expectation fails; the days stay published and the next refresh tries again."""
    with hold(
        settings.warehouse_uri,
        PERIODS_SCOPE,
        run_id,
        s3=settings.s3,
        wait_seconds=settings.lock_wait_seconds,
        lease_seconds=settings.lock_lease_seconds,
    ) as lease:
        points = publish_points(manifest_rows(settings.warehouse_uri, settings.s3, columns=POINT_COLUMNS))
        lifecycle_days, lifecycle = changed_concession_lifecycle(settings, points)
        stale = stale_periods(points, stored_digests(settings))
        frames: dict[str, pl.DataFrame] = {}
        relabelled: list[Period] = []
        if stale:
            frames = compute_periods(settings, policy, stale, points)
            frames["peer_comparison"], relabelled = with_lifecycle(
                settings, frames["peer_comparison"], stale, points
            )
        if lifecycle_days:
            frames[LIFECYCLE_TABLE] = lifecycle
        snapshot, people = stale_dimensions(settings)
        frames.update(people)
        if not frames:
            return PeriodRefresh()
        frames = {
            name: f.with_columns(
                publishing_columns(name, f.columns, run_id=run_id, policy_version=policy.version)
            )
            for name, f in frames.items()
        }
        newest = max(points) if points else dt.datetime.now(dt.UTC).date()  # names the Data Docs
        docs_url = _validate(settings, policy, run_id, frames, newest)
        versions = {}
        for name in COMMIT_ORDER if stale else ():
            lease.check()
            periods = [*stale, *relabelled] if name == "peer_comparison" else stale
            versions[name] = _commit(settings, name, frames[name], periods, run_id)
        if lifecycle_days:
            lease.check()
            days = ", ".join(f"'{d.isoformat()}'" for d in lifecycle_days)
            versions[LIFECYCLE_TABLE] = _write(
                settings,
                LIFECYCLE_TABLE,
                frames[LIFECYCLE_TABLE],
                f"audit_date IN ({days})",
                run_id,
                len(lifecycle_days),
            )
        for name in people:
            lease.check()
            versions[name] = write_dimension(settings, name, frames[name], snapshot, run_id)
        log.info("refreshed %d period(s), %d lifecycle day(s): %s", len(stale), len(lifecycle_days), versions)
        return PeriodRefresh(tuple(stale), versions, {n: f.height for n, f in frames.items()}, docs_url)


def concession_lifecycle(flags: pl.DataFrame, days: Sequence[dt.date]) -> pl.DataFrame:
    """Every published concession flag, and the day after each one stopped, with its lifecycle."""
    subject, key = list(CONCESSION_SUBJECT), ["audit_date", "flag_type", *CONCESSION_SUBJECT]
    held = flags.select(*key).unique().with_columns(pl.lit(True).alias("is_flagged"))
    rows = pl.concat([held, cleared_rows(held, days, subject, "audit_date").select(held.columns)])
    labelled = flag_lifecycle(rows, days, subject, day="audit_date")
    computed = [c for c in TABLES[LIFECYCLE_TABLE].schema.names() if c not in PUBLISHING_COLUMNS]
    return labelled.select(computed).sort(key, nulls_last=True)


def changed_concession_lifecycle(
    settings: AuditSettings, points: Mapping[dt.date, PublishPoint]
) -> tuple[list[dt.date], pl.DataFrame]:
    """The days whose concession flag lifecycle differs from the stored one, and their rows.

    The whole history is recomputed from the published flags every refresh (flags are few), so
    a re-audit anywhere, or a refresh that stopped part way, is caught by the next refresh."""
    flags = read_published(settings.warehouse_uri, "concession_flags", settings.s3, points=dict(points))
    empty = pl.DataFrame(schema=TABLES[LIFECYCLE_TABLE].schema).drop(PUBLISHING_COLUMNS, strict=False)
    if flags is None or not points:
        return [], empty
    fresh = concession_lifecycle(flags, sorted(points))
    scan = _scan(settings, LIFECYCLE_TABLE)
    stored = scan.drop(PUBLISHING_COLUMNS, strict=False).collect() if scan is not None else empty
    on = fresh.columns
    changed = pl.concat(
        [
            fresh.join(stored, on=on, how="anti", nulls_equal=True),
            stored.join(fresh, on=on, how="anti", nulls_equal=True),
        ]
    )
    days = sorted(set(changed["audit_date"]))
    return days, fresh.filter(pl.col("audit_date").is_in(days))


def with_lifecycle(
    settings: AuditSettings,
    rows: pl.DataFrame,
    stale: Sequence[Period],
    points: Mapping[dt.date, PublishPoint],
) -> tuple[pl.DataFrame, list[Period]]:
    """The refreshed windows' peer rows with their flag lifecycle, plus the stored rows of later
    windows whose lifecycle the refresh changed (returned with those windows, to rewrite too).

    A run of flags spans windows, so re-auditing a day can turn a later window's `new` into
    `ongoing`, or make the window right after a refreshed one `cleared`. The later windows'
    flagged and cleared rows, and every row of the window right after each refreshed one, are
    labelled again with the refreshed flags; the windows where a label changed are rewritten.
    """
    ends = sorted(points)
    refreshed = {p.end for p in stale if p.kind == "rolling_28d"}
    following = {e for e in (_next(ends, r) for r in refreshed) if e is not None and e not in refreshed}
    stored = _stored_peer_rows(settings, refreshed, following)
    timeline = pl.concat([rows.select(_TIMELINE), stored.select(_TIMELINE)])
    labels = flag_lifecycle(timeline, ends).select(*SUBJECT, "period_end", *LIFECYCLE_SCHEMA.names())
    keys = [*SUBJECT, "period_end"]
    fresh = rows.drop(LIFECYCLE_SCHEMA.names(), strict=False).join(labels, on=keys, how="left")
    before = stored.select(*keys, *LIFECYCLE_SCHEMA.names())
    changed = before.join(labels, on=keys, how="left", suffix="_new").filter(
        pl.any_horizontal(~pl.col(c).eq_missing(pl.col(f"{c}_new")) for c in LIFECYCLE_SCHEMA.names())
    )
    rewrite = (set(changed["period_end"]) | following) - refreshed
    if not rewrite:
        return fresh.select(ROLLING_PEERS_SCHEMA.names()), []
    # A relabelled window keeps the policy version it was computed with (null: written before
    # rows carried one; publishing fills the refresh's): only its lifecycle labels change.
    version = pl.col(POLICY_VERSION.name)
    later = (
        _stored_windows(settings, rewrite)
        .drop(*LIFECYCLE_SCHEMA.names(), RUN_ID.name, strict=False)
        .join(labels, on=keys, how="left")
    )
    if POLICY_VERSION.name not in later.columns:
        later = later.with_columns(pl.lit(None, pl.String).alias(POLICY_VERSION.name))
    relabelled = pl.concat(
        [
            fresh.select(*ROLLING_PEERS_SCHEMA.names(), pl.lit(None, pl.String).alias(POLICY_VERSION.name)),
            later.select(*ROLLING_PEERS_SCHEMA.names(), version),
        ]
    )
    return relabelled, [rolling_ending(e) for e in sorted(rewrite)]


_TIMELINE = [*SUBJECT, "period_end", "is_flagged", "flag_type"]


def _next(ends: Sequence[dt.date], end: dt.date) -> dt.date | None:
    return next((e for e in ends if e > end), None)


def _scan(settings: AuditSettings, name: str) -> pl.LazyFrame | None:
    return scan_table_if_exists(settings.warehouse_uri, name, settings.s3)


def _stored_peer_rows(
    settings: AuditSettings, refreshed: set[dt.date], following: set[dt.date]
) -> pl.DataFrame:
    """Stored rows outside the refreshed windows that a lifecycle can depend on or change: the
    flagged and cleared ones, and every row of the windows right after the refreshed ones."""
    empty = pl.DataFrame(schema={n: ROLLING_PEERS_SCHEMA[n] for n in _TIMELINE} | dict(LIFECYCLE_SCHEMA))
    scan = _scan(settings, "peer_comparison")
    if scan is None:
        return empty
    wanted = (
        pl.col("is_flagged") | (pl.col("status") == "cleared") | pl.col("period_end").is_in(sorted(following))
    )
    return (
        scan.filter(~pl.col("period_end").is_in(sorted(refreshed)) & wanted.fill_null(False))
        .select(empty.columns)
        .collect()
    )


def _stored_windows(settings: AuditSettings, ends: set[dt.date]) -> pl.DataFrame:
    scan = _scan(settings, "peer_comparison")
    assert scan is not None  # only called for windows read from the table
    return scan.filter(pl.col("period_end").is_in(sorted(ends))).collect()


def _validate(
    settings: AuditSettings, policy: Policy, run_id: str, frames: Mapping[str, pl.DataFrame], newest: dt.date
) -> str:
    """The period tables' suites, with Data Docs under data_docs/periods/run_id=R/."""
    from expectations import SuiteParams
    from expectations.gate import run_validation
    from warehouse.data_docs import publish_data_docs

    with scratch_dir(settings.work_dir) as tmp:
        report = run_validation(
            frames,
            run_id=run_id,
            audit_date=newest,
            docs_dir=tmp / "data_docs",
            params=SuiteParams(min_volume=policy.min_volume),
            label="period scorecards",
        )
        url = publish_data_docs(
            tmp / "data_docs",
            reports_uri=settings.reports_uri,
            run_id=run_id,
            s3=settings.s3,
            prefix=f"data_docs/periods/run_id={run_id}",
        )
    report.raise_for_critical()
    return url


def period_predicate(periods: Iterable[Period]) -> str:
    """The SQL predicate selecting exactly these periods' rows (what a refresh replaces)."""
    by_kind: dict[str, list[str]] = {}
    for p in periods:
        by_kind.setdefault(p.kind, []).append(f"'{p.start.isoformat()}'")
    return " OR ".join(
        f"(period = '{kind}' AND period_start IN ({', '.join(sorted(starts))}))"
        for kind, starts in sorted(by_kind.items())
    )


def _commit(
    settings: AuditSettings, name: str, frame: pl.DataFrame, periods: Sequence[Period], run_id: str
) -> int:
    """One overwrite of the stale periods' rows (an empty frame empties them)."""
    return _write(settings, name, frame, period_predicate(periods), run_id, len(periods))


def _write(
    settings: AuditSettings, name: str, frame: pl.DataFrame, predicate: str, run_id: str, parts: int
) -> int:
    """Replace the rows `predicate` selects with `frame` in one commit (the whole table when it
    does not exist yet); returns the new version."""
    metadata = {"run_id": run_id, "parts": parts}
    return replace_rows(
        settings.warehouse_uri, settings.s3, name, frame, predicate=predicate, metadata=metadata
    )


__all__ = ["PeriodRefresh", "period_predicate", "refresh_periods", "stale_periods"]
