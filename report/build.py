"""Build the day's HTML report from the published tables and publish it beside the Data Docs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

from catalogue import REPORTS_PREFIX
from configs.settings import S3Settings
from report.pages import render_pages
from report.render import render_report
from report.tables import load_audit_day
from storage import open_storage

DEFAULT_MIN_VOLUME = 20
WRITERS = 16  # report pages written at once


def report_key(audit_date: date, page: str = "index.html") -> str:
    """Where a page of a day's report lives under the reports URI (one folder per day, like the
    tables; `index.html` is the day page)."""
    return f"{REPORTS_PREFIX}/audit_date={audit_date.isoformat()}/{page}"


def build_report(
    warehouse_uri: str,
    audit_date: date,
    *,
    s3: S3Settings | None = None,
    data_docs_url: str | None = None,
    min_volume: int = DEFAULT_MIN_VOLUME,
    reports_uri: str | None = None,
    relative_links: bool = True,
) -> str:
    """The self-contained HTML report for one audit day.

    `min_volume` (the policy's) marks roll-ups computed here (all teams, the trend);
    per-agent and per-team markers are the published `is_<m>_low_volume` columns.
    `reports_uri` lets the Data Docs link be relative to the published report (inferred
    from the link when not given); `relative_links=False` for a copy saved elsewhere.
    """
    day = load_audit_day(warehouse_uri, audit_date, s3, pages=True)
    return render_report(
        day,
        min_volume=min_volume,
        data_docs_url=data_docs_url,
        reports_uri=reports_uri,
        relative_links=relative_links,
    )


def build_report_pages(
    warehouse_uri: str,
    audit_date: date,
    *,
    s3: S3Settings | None = None,
    data_docs_url: str | None = None,
    min_volume: int = DEFAULT_MIN_VOLUME,
    reports_uri: str | None = None,
) -> dict[str, str]:
    """Every page of the day's report folder (index.html, the period pages, agents/...), by path."""
    day = load_audit_day(warehouse_uri, audit_date, s3, pages=True)
    return render_pages(day, min_volume=min_volume, data_docs_url=data_docs_url, reports_uri=reports_uri)


def publish_report(
    html: str | dict[str, str], reports_uri: str, audit_date: date, s3: S3Settings | None = None
) -> str:
    """Write the report (one page, or every page of the folder by path) under the reports URI;
    returns the full location (path or s3:// URI) of its index.html. The index is written last,
    so a reader following its links finds the other pages already there."""
    pages = {"index.html": html} if isinstance(html, str) else html
    storage = open_storage(reports_uri, s3)

    def write(page: str) -> None:
        storage.write_bytes(
            report_key(audit_date, page), pages[page].encode("utf-8"), content_type="text/html; charset=utf-8"
        )

    # A centre's folder is ~1,000 agent pages: one PUT each, so several at once (latency-bound).
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(write, sorted(p for p in pages if p != "index.html")))
    if "index.html" in pages:
        write("index.html")
    return f"{storage.uri.rstrip('/')}/{report_key(audit_date)}"
