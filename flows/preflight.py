"""What a run checks before any work: what no retry fixes (settings, the vendor mapping, the
pseudonym key, a landing that does not answer, a store that refuses a write).

The CLI runs it before starting a flow (so it exits with the documented codes), and every flow
runs it first (so a deployment run under a worker fails in seconds too, instead of after a
whole ingest or after retrying a missing credential)."""

from __future__ import annotations

from pathlib import Path

from configs.settings import AuditSettings

WRITE_CHECK = ".support-audit-write-check"


class StoreNotWritable(RuntimeError):
    """A store the run writes refused a small write: found before any work (exit 4)."""


def check_setup(settings: AuditSettings) -> None:
    """Fail fast on the vendor mapping, the pseudonym key, a landing store that does not answer
    (one list request) and a store the run writes that refuses a write."""
    from storage import open_storage
    from warehouse.secrets import load_pseudonym_key

    settings.vendor_mapping()  # a vendor landing's mapping file: read and checked
    load_pseudonym_key()
    open_storage(settings.landing_uri, settings.s3).folders("tickets")
    check_writable(settings)


def check_writable(settings: AuditSettings) -> None:
    """Write (overwrite) one small object in every store a run writes: the warehouse, the
    canonical store, the reports and the landing's quarantine prefix, so a read-only or
    mistyped store fails in a second, not after the ingest. A local landing that does not
    exist is left alone (the run then stops for lack of input)."""
    from storage import is_s3, open_storage

    targets = [
        (settings.warehouse_uri, f"_locks/{WRITE_CHECK}"),
        (settings.canonical_store_uri(), f"_locks/{WRITE_CHECK}"),
        (settings.reports_uri, WRITE_CHECK),
    ]
    if is_s3(settings.landing_uri) or Path(settings.landing_uri).is_dir():
        targets.append((settings.landing_uri, f"{settings.quarantine_prefix}/{WRITE_CHECK}"))
    for uri, key in targets:
        try:
            open_storage(uri, settings.s3).write_bytes(key, b"support-audit checks it can write here\n")
        except Exception as exc:
            raise StoreNotWritable(f"cannot write to {uri} ({type(exc).__name__}: {exc})") from exc
