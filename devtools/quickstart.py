"""The quickstart: sample exports, real Prefect flow runs, every output, and where to look.

Everything lives under `.quickstart/` (git-ignored), so a second run works: the landing
folder is regenerated (same seed, same files), the warehouse keeps its history and gets a
new table version with identical contents. With `vendor="zendesk+connect"` the same sample is
written as Zendesk + Amazon Connect exports under `.quickstart/vendor/` (landing, warehouse,
reports of its own) and the flows read it through the adapters with the generated mapping file.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import catalogue
from devtools.sample_data import GeneratorConfig
from warehouse.secrets import PSEUDONYM_KEY_ENV, ensure_local_key

QUICKSTART_DIR = Path(".quickstart")
QUICKSTART_DAYS = 42
S3_BUCKET = "support-audit-quickstart"
VENDOR_DIR = "vendor"  # the vendor quickstart's folder (and S3 prefix): its own store and tables


@dataclass(frozen=True)
class QuickstartPlaces:
    landing: str
    warehouse: str
    reports: str


def local_places(root: Path = QUICKSTART_DIR) -> QuickstartPlaces:
    return QuickstartPlaces(
        landing=str((root / "landing").resolve()),
        warehouse=str((root / "warehouse").resolve()),
        reports=str((root / "reports").resolve()),
    )


def s3_places(bucket: str = S3_BUCKET, prefix: str = "") -> QuickstartPlaces:
    base = f"s3://{bucket}/{prefix}"
    return QuickstartPlaces(f"{base}landing", f"{base}warehouse", f"{base}reports")


def vendor_settings(folder: Path, mapping: bytes) -> Path:
    """The mapping file the generator wrote, copied next to a settings overlay that turns the
    vendor landing on (`--config` for the flows and for runs of your own)."""
    folder.mkdir(parents=True, exist_ok=True)
    mapping_file = folder / "mapping.toml"
    mapping_file.write_bytes(mapping)
    overlay = folder / "settings.toml"
    overlay.write_text(
        "# The vendor quickstart's settings overlay (docs/vendors.md)\n"
        'landing_vendor = "zendesk+connect"\n'
        f"vendor_mapping_path = {json.dumps(str(mapping_file.resolve()))}\n",
        encoding="utf-8",
    )
    return overlay


@contextmanager
def _s3_endpoint(root: Path) -> Iterator[str]:
    """The embedded S3 endpoint, with the client settings the flows read from the environment."""
    from devtools.s3_endpoint import DUMMY_CREDENTIALS, create_bucket, local_s3_endpoint

    with local_s3_endpoint() as url:
        saved = {k: os.environ.get(k) for k in [*DUMMY_CREDENTIALS, "AUDIT_S3__ENDPOINT_URL"]}
        os.environ.update({**DUMMY_CREDENTIALS, "AUDIT_S3__ENDPOINT_URL": url})
        try:
            create_bucket(url, S3_BUCKET)
            yield url
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def run_quickstart(
    *,
    use_s3: bool = False,
    root: Path = QUICKSTART_DIR,
    end_date: date | None = None,
    sample: GeneratorConfig | None = None,
    vendor: str = "contract",
    backfill_days: int = 7,
) -> str:
    """Generate, audit the latest mature day, backfill the week before it, report. Returns the summary.

    `sample` replaces the default six-week, 20-agent sample (tests use a smaller one, and may
    backfill fewer days: `backfill_days`). `vendor`
    `zendesk+connect` writes it as Zendesk + Amazon Connect exports (no bad rows: they have no
    vendor form) and runs the flows on them with the generated mapping.
    """
    from configs.settings import load_settings
    from flows.daily import backfill, daily_audit
    from flows.windows import default_audit_date

    root.mkdir(parents=True, exist_ok=True)
    key = ensure_local_key(root / ".pseudonym-key")
    os.environ.setdefault(PSEUDONYM_KEY_ENV, key.decode())
    end = end_date or datetime.now(UTC).date() - timedelta(days=1)
    contract = vendor == "contract"
    with _s3_endpoint(root) if use_s3 else nullcontext() as endpoint:
        prefix = "" if contract else f"{VENDOR_DIR}/"
        places = s3_places(prefix=prefix) if use_s3 else local_places(root / prefix)
        settings = load_settings(env="local", landing_uri=places.landing)
        if not use_s3:
            shutil.rmtree(places.landing, ignore_errors=True)
        sample = sample or GeneratorConfig(end_date=end, days=QUICKSTART_DAYS)
        if not contract:
            sample = replace(sample, bad_row_share=0.0)  # bad rows have no vendor form
        overlay = generate_landing(
            places.landing, sample, settings.s3, None if contract else root / VENDOR_DIR
        )
        policy = settings.policy()
        audit_date = default_audit_date(sample.end_date, policy)
        common: dict[str, Any] = {
            "landing": places.landing,
            "warehouse": places.warehouse,
            "reports": places.reports,
            "config": str(overlay) if overlay else None,
        }
        daily = daily_audit(audit_date=None, **common)
        first = audit_date - timedelta(days=backfill_days)
        week = backfill(start=first, end=audit_date - timedelta(days=1), **common)
        if use_s3:  # the embedded endpoint's data goes when it stops: keep a copy to open
            local = mirror_reports(places.reports, root / prefix / "s3-reports", settings.s3)
            daily = _with_local_links(daily, places.reports, local)
        return summary_text(places, daily, week, endpoint, key_file=root / ".pseudonym-key", config=overlay)


def generate_landing(
    landing: str, sample: GeneratorConfig, s3: Any, vendor_folder: Path | None
) -> Path | None:
    """Write the sample exports and print their summary: contract v1, or (with `vendor_folder`)
    Zendesk + Connect exports, whose mapping and settings overlay go to that local folder (the
    overlay is returned, for the flows' `config`)."""
    from devtools.sample_data import generate_exports, generate_vendor_exports
    from devtools.sample_data.vendors import MAPPING_KEY
    from storage import open_storage

    if vendor_folder is None:
        print(generate_exports(landing, sample, s3).text())
        return None
    print(generate_vendor_exports(landing, sample, s3).text())
    return vendor_settings(vendor_folder, open_storage(landing, s3).read_bytes(MAPPING_KEY))


def mirror_reports(reports_uri: str, local_dir: Path, s3: Any) -> Path:
    """Copy every report and Data Docs object to a local folder (same layout)."""
    from storage import LocalStorage, open_storage

    source, target = open_storage(reports_uri, s3), LocalStorage(local_dir)
    for info in source.list():
        target.write_bytes(info.key, source.read_bytes(info.key))
    return local_dir.resolve()


def _with_local_links(result: dict[str, Any], reports_uri: str, local_dir: Path) -> dict[str, Any]:
    """Point the summary's links at the local mirror instead of the stopped endpoint."""
    out = dict(result)
    prefix = reports_uri.rstrip("/") + "/"
    for name in ("report_url", "data_docs_url"):
        url = out.get(name)
        if url and url.startswith(prefix):
            out[name] = str(local_dir / url.removeprefix(prefix))
    return out


def reconciliation_lines(inputs: list[dict[str, Any]]) -> list[str]:
    """One line per entity: files and rows read, accepted, quarantined, duplicate."""
    header = f"  {'entity':<14}{'files':>6}{'read':>10}{'accepted':>10}{'quarantined':>13}{'duplicate':>11}"
    rows = [
        f"  {r['entity']:<14}{r['files']:>6}{r['rows_read']:>10,}{r['rows_accepted']:>10,}"
        f"{r['rows_quarantined']:>13,}{r['rows_duplicate']:>11,}"
        for r in inputs
    ]
    return [header, *rows]


def summary_text(
    places: QuickstartPlaces,
    daily: dict[str, Any],
    week: list[dict[str, Any]],
    endpoint: str | None,
    key_file: Path | None = None,
    config: Path | None = None,
) -> str:
    head = daily["headline"]
    validation = "passed" if daily["validation_passed"] else "FAILED"

    def pct(value: float | None) -> str:
        return "n/a (nothing final yet)" if value is None else f"{value:.1%}"

    lines = [
        "",
        "Exports read for the audit day (rows read = accepted + quarantined + duplicate):",
        *reconciliation_lines(daily["inputs"]),
        "",
        "support-audit quickstart: done.",
        f"  audit day            {daily['audit_date']} (validation {validation})",
        f"  backfilled           {week[0]['audit_date']} .. {week[-1]['audit_date']}" if week else "",
        *(f"  {catalogue.metric(m).label:<27}{pct(head.get(m))}" for m in catalogue.headline_metrics()),
        "",
        "Open:",
        f"  HTML report          {daily['report_url']}",
        f"  Data Docs            {daily['data_docs_url']}",
        f"  Delta tables         {places.warehouse}/<table>  (agent_scorecard, follow_up_audit, ...)",
        f"  canonical store      {places.warehouse}/_canonical  (ingest_ledger, tickets, ...; not published)",
        f"  exports read         {places.landing}",
        "",
    ]
    if not endpoint:
        day = daily["audit_date"]
        lines.append(f"Terminal view:  .venv/bin/audit report --date {day} --warehouse {places.warehouse}")
        if key_file is not None:  # the quickstart's pseudonym key, for runs of your own on its folders
            where = f"--landing {places.landing} --warehouse {places.warehouse} --reports {places.reports}"
            where += f" --config {config}" if config else ""
            lines.append(
                f"Run it yourself: export {PSEUDONYM_KEY_ENV}=$(cat {key_file}); .venv/bin/audit run {where}"
            )
    else:
        lines.append(f"(the local S3 endpoint {endpoint} has stopped; the reports above are a local copy)")
    return "\n".join(line for line in lines if line is not None)
