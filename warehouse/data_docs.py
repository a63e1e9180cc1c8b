"""Data Docs for auditors: each run's validation pages under the reports URI, and a runs index.

`<reports>/data_docs/audit_date=D/run_id=R/` holds one run's pages (with content types, so a
browser opens them straight from S3), and `<reports>/data_docs/index.html` links every run by
audit date from the `summary.json` each run's gate writes.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from catalogue import DATA_DOCS_PREFIX, SUMMARY_FILE
from configs.settings import S3Settings
from storage import open_storage

# Spelled out rather than `mimetypes`: Python's own table lacks the font types and the machine's
# /etc/mime.types differs between hosts, and a browser opening Data Docs straight from S3 needs
# these exact headers.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".otf": "font/otf",
    ".ttf": "font/ttf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}


def data_docs_prefix(audit_date: dt.date, run_id: str) -> str:
    return f"{DATA_DOCS_PREFIX}/audit_date={audit_date.isoformat()}/run_id={run_id}"


def ingest_docs_prefix(run_id: str, label: str) -> str:
    """Where an ingest batch's input validation goes (`label`: its export days)."""
    return f"{DATA_DOCS_PREFIX}/ingest/run_id={run_id}/exports={label}"


def publish_data_docs(
    docs_dir: Path,
    *,
    reports_uri: str,
    audit_date: dt.date | None = None,
    run_id: str,
    s3: S3Settings | None = None,
    prefix: str | None = None,
) -> str:
    """Upload one validation's Data Docs (with content types) and refresh the runs index: an
    audit day's (`audit_date`) or another `prefix` (an ingest batch's).

    Returns the URI of its Data Docs index page.
    """
    storage = open_storage(reports_uri, s3)
    if prefix is None:
        if audit_date is None:
            raise ValueError("publish_data_docs needs an audit_date or a prefix")
        prefix = data_docs_prefix(audit_date, run_id)
    for path in sorted(p for p in Path(docs_dir).rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(docs_dir).as_posix()}"
        storage.write_bytes(key, path.read_bytes(), content_type=content_type(path.name))
    refresh_runs_index(reports_uri, s3)
    return f"{storage.uri.rstrip('/')}/{prefix}/index.html"


def content_type(name: str) -> str:
    """What a browser needs to open a Data Docs file straight from S3 (text is UTF-8)."""
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def refresh_runs_index(reports_uri: str, s3: S3Settings | None = None) -> str:
    """Rebuild `<reports>/data_docs/index.html` from every validation's summary.json (audit days
    and ingest batches)."""
    from expectations.data_docs_pages import render_runs_index

    storage = open_storage(reports_uri, s3)
    summaries, links = [], []
    for info in storage.list(DATA_DOCS_PREFIX):
        if info.key.endswith(f"/{SUMMARY_FILE}"):
            summaries.append(json.loads(storage.read_bytes(info.key)))
            folder = info.key.removeprefix(f"{DATA_DOCS_PREFIX}/").removesuffix(SUMMARY_FILE)
            links.append(f"{folder}index.html")
    key = f"{DATA_DOCS_PREFIX}/index.html"
    page = render_runs_index(summaries, links).encode("utf-8")
    storage.write_bytes(key, page, content_type=content_type(key))
    return key
