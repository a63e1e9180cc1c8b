"""The ingest step of every run: new export objects into the canonical store, validated once.

Wires the configured landing, store, reports and policy into `ingestion.incremental`: each
batch's new canonical rows go through the input suites (Great Expectations) before anything of
the batch is written, with their Data Docs under `<reports>/data_docs/ingest/`; the published
audit days a late, changed or deleted object can change are read from the run manifest.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import polars as pl

from configs.policy import Policy
from configs.settings import AuditSettings
from flows.errors import NoInput
from flows.windows import lookahead_days, lookback_days
from ingestion.incremental import IngestReport, ingest_to_store, rebuild
from storage import Storage, open_storage
from storage.scratch import scratch_dir
from transforms.schemas import ENTITIES
from warehouse.lock import hold
from warehouse.publication import POINT_COLUMNS, manifest_rows, publish_points
from warehouse.store import store_of


def published_days(settings: AuditSettings) -> list[date]:
    """Audit days with a publish point (a succeeded run not rolled back) in the manifest."""
    return sorted(publish_points(manifest_rows(settings.warehouse_uri, settings.s3, columns=POINT_COLUMNS)))


def ingest_exports(
    settings: AuditSettings,
    policy: Policy,
    run_id: str,
    *,
    rebuild_store: bool = False,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Read what the ledger does not have into the store (with `rebuild_store`, empty it
    first); returns what was done. One ingest at a time per store (its lease); a landing
    that lists no export object at all stops the run (a typo in landing_uri, an empty
    bucket) before the store is touched."""
    landing = open_storage(settings.landing_uri, settings.s3)
    mapping = settings.vendor_mapping()
    prefixes = list(mapping.prefixes().values()) if mapping else [f"{entity}/" for entity in ENTITIES]
    if not any(next(iter(landing.list(prefix, hashed=False)), None) for prefix in prefixes):
        raise NoInput(
            f"the landing {settings.landing_uri} lists no export objects (no file under "
            f"{', '.join(prefixes)}): check landing_uri"
            + (" and the vendor mapping's prefixes" if mapping else "")
        )
    with hold(
        settings.canonical_store_uri(),
        "ingest",
        run_id,
        s3=settings.s3,
        wait_seconds=settings.lock_wait_seconds,
        lease_seconds=settings.lock_lease_seconds,
    ):
        if rebuild_store:
            rebuild(store_of(settings))
        return _ingest(settings, policy, run_id, landing, progress)


def _ingest(
    settings: AuditSettings,
    policy: Policy,
    run_id: str,
    landing: Storage,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    published = published_days(settings)
    before, after = timedelta(days=lookahead_days(policy) + 1), timedelta(days=lookback_days(policy) + 1)

    def affected(first: date, last: date) -> list[date]:
        """Published days whose read window (D - lookback .. D + lookahead) holds these record days."""
        return [d for d in published if first - before <= d <= last + after]

    def validate(frames: dict[str, pl.DataFrame], label: str) -> None:
        validate_batch(settings, policy, run_id, frames, label)

    return ingest_to_store(
        landing,
        store_of(settings),
        run_id=run_id,
        quarantine_prefix=settings.quarantine_prefix,
        rules=settings.input_rules(),
        validate=validate,
        affected_days=affected,
        batch_days=settings.ingest_batch_days,
        progress=progress,
    )


def validate_batch(
    settings: AuditSettings, policy: Policy, run_id: str, frames: dict[str, pl.DataFrame], label: str
) -> None:
    """The input suites on a batch's new canonical rows; Data Docs published; raises
    ValidationFailed when a critical expectation fails (nothing of the batch is written)."""
    from expectations import SuiteParams
    from expectations.gate import ValidationFailed, run_validation
    from warehouse.data_docs import ingest_docs_prefix, publish_data_docs

    categories = set(policy.concessions.allowed)
    if policy.follow_up.categories != "all":
        categories |= set(policy.follow_up.categories)
    if "tickets" in frames:
        categories |= set(frames["tickets"]["category"].drop_nulls().unique().to_list())
    params = SuiteParams(
        known_categories=sorted(categories), known_currencies=sorted(policy.concessions.currencies)
    )
    with scratch_dir(settings.work_dir) as tmp:
        report = run_validation(
            frames,
            run_id=run_id,
            audit_date=date.today(),
            docs_dir=tmp / "data_docs",
            params=params,
            label=f"ingest of exports {label}",
        )
        publish_data_docs(
            tmp / "data_docs",
            reports_uri=settings.reports_uri,
            run_id=run_id,
            s3=settings.s3,
            prefix=ingest_docs_prefix(run_id, label),
        )
    if not report.critical_passed:
        raise ValidationFailed(report)
