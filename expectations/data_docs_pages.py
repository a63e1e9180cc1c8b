"""Data Docs auditors can open offline: a page per validation, an index per run, and the runs
index across runs, all our own HTML (inline CSS, no script, no remote asset).

Great Expectations' own site loads Bootstrap, jQuery and Vega from CDNs that the package does
not ship, so without network its pages were blank or unstyled, and it showed no severity: a
warning-only failure read "Failed". These pages are rendered from the same sanitised results
the gate writes to `results/` (key columns only, no values), and say what a failure means:
"passed with warnings" publishes, "failed (critical)" does not.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader

from expectations._results import column, observed, sample_keys, severity
from expectations._suite import CRITICAL

if TYPE_CHECKING:
    from expectations.gate import SuiteResult, ValidationReport

TEMPLATES = Path(__file__).with_name("templates") / "data_docs"
PAGES_DIR = "validations"
RUN_INDEX = "index.html"
# Nothing may load: no script, image, font or frame; only the page's own <style>.
CSP = "default-src 'none'; style-src 'unsafe-inline'"
PASSED = "passed"
PASSED_WITH_WARNINGS = "passed with warnings"
FAILED_CRITICAL = "failed (critical)"
FAILED_WARNING = "failed (warning)"
# Arguments shown as the column, or GX's own bookkeeping: not part of the rule.
NOT_RULE = frozenset({"batch_id", "column", "column_A", "column_B", "column_list"})


def outcome(success: bool, critical_passed: bool) -> str:
    """A suite's or run's result in words: failed warnings alone still pass (and publish)."""
    if success:
        return PASSED
    return PASSED_WITH_WARNINGS if critical_passed else FAILED_CRITICAL


@dataclass(frozen=True)
class ExpectationRow:
    """One expectation as an auditor reads it: what it checks, how much it matters, what it saw."""

    expectation_type: str
    column: str | None
    severity: str
    success: bool
    rule: str  # the expectation's arguments: value sets, bounds, patterns
    observed: str | None  # "1 of 3 rows unexpected (33.3%)", a row count, or the error raised
    sample_keys: tuple[str, ...]  # failing rows by key columns only

    @property
    def outcome(self) -> str:
        if self.success:
            return PASSED
        return FAILED_CRITICAL if self.severity == CRITICAL else FAILED_WARNING


@dataclass(frozen=True)
class ValidationPage:
    """One GX validation (a suite, or a table's long view) and its page in the run's folder."""

    name: str
    table: str
    expectations: tuple[ExpectationRow, ...]

    @property
    def path(self) -> str:
        return f"{PAGES_DIR}/{self.name}.html"

    @property
    def success(self) -> bool:
        return all(e.success for e in self.expectations)

    @property
    def critical_passed(self) -> bool:
        return self.failed(CRITICAL) == 0

    @property
    def outcome(self) -> str:
        return outcome(self.success, self.critical_passed)

    @property
    def passed(self) -> int:
        return sum(e.success for e in self.expectations)

    def failed(self, level: str) -> int:
        return sum(not e.success and e.severity == level for e in self.expectations)


@dataclass(frozen=True)
class TableSection:
    """A table on the run's index: its suite's result and its validations' pages."""

    result: SuiteResult
    pages: tuple[ValidationPage, ...]

    @property
    def outcome(self) -> str:
        return outcome(self.result.success, self.result.critical_passed)

    def failed(self, level: str) -> int:
        return sum(p.failed(level) for p in self.pages)


def validation_page(name: str, table: str, result: Mapping[str, Any]) -> ValidationPage:
    """The page model of one sanitised GX result: failures first, critical before warning."""
    rows = [_expectation_row(item) for item in result.get("results", [])]
    rows.sort(key=lambda r: (r.success, r.severity != CRITICAL))
    return ValidationPage(name=name, table=table, expectations=tuple(rows))


def _expectation_row(item: Mapping[str, Any]) -> ExpectationRow:
    config = item["expectation_config"]
    kwargs = config.get("kwargs", {})
    detail = item.get("result") or {}
    raised = (item.get("exception_info") or {}).get("exception_message")
    return ExpectationRow(
        expectation_type=config["type"],
        column=column(kwargs),
        severity=severity(config),
        success=bool(item.get("success")),
        rule=", ".join(f"{k}={_compact(v)}" for k, v in sorted(kwargs.items()) if k not in NOT_RULE),
        observed=_unexpected(detail) or observed(detail, raised),
        sample_keys=tuple(", ".join(f"{k}={v}" for k, v in key.items()) for key in sample_keys(detail)),
    )


def _unexpected(detail: Mapping[str, Any]) -> str | None:
    """Failing rows out of the rows checked, for column checks (table checks have none)."""
    count, total = detail.get("unexpected_count"), detail.get("element_count")
    if count is None or not total:
        return None
    return f"{count} of {total} rows unexpected ({100 * count / total:.1f}%)"


def _compact(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def write_run_pages(
    docs_dir: Path, report: ValidationReport, results: Mapping[str, Sequence[tuple[str, Mapping[str, Any]]]]
) -> dict[str, str]:
    """Write the run's index.html and one page per validation under docs_dir.

    `results` maps each table to its validations' (name, sanitised result), suite first.
    Returns each validation's page, relative to docs_dir (what summary.json records).
    """
    sections = [
        TableSection(report.suite(table), tuple(validation_page(name, table, r) for name, r in validations))
        for table, validations in sorted(results.items())
    ]
    run = {"report": report, "outcome": _run_outcome(report)}
    for section in sections:
        for page in section.pages:
            html = _render("validation.html.j2", page=page, back="../" + RUN_INDEX, **run)
            _write(docs_dir / page.path, html)
    _write(docs_dir / RUN_INDEX, _render("run.html.j2", sections=sections, **run))
    return {page.name: page.path for section in sections for page in section.pages}


def _run_outcome(report: ValidationReport) -> str:
    return outcome(all(s.success for s in report.suites), report.critical_passed)


@dataclass(frozen=True)
class RunLine:
    """A run on the runs index, from its summary.json."""

    what: str  # audit date, or the ingest batch's label
    run_id: str
    validated_at: str
    link: str
    outcome: str
    attention: tuple[tuple[str, str, str | None], ...]  # (suite, outcome, its page) not passed


def run_line(summary: Mapping[str, Any], link: str) -> RunLine:
    """What the runs index shows of one run. Summaries written before these pages (GX's site)
    have no `pages`: their suites are listed without a link."""
    folder = posixpath.dirname(link)
    pages = summary.get("pages") or {}
    attention = []
    for suite in sorted(summary.get("suites", []), key=lambda s: s["suite"]):
        said = outcome(bool(suite["success"]), bool(suite["critical_passed"]))
        if said != PASSED:
            page = pages.get(suite["suite"])
            attention.append((suite["suite"], said, posixpath.join(folder, page) if page else None))
    success = not summary.get("failures") and not attention
    return RunLine(
        what=summary.get("label") or summary["audit_date"],
        run_id=summary["run_id"],
        validated_at=summary.get("validated_at", ""),
        link=link,
        outcome=outcome(success, bool(summary["critical_passed"])),
        attention=tuple(attention),
    )


def render_runs_index(summaries: Iterable[Mapping[str, Any]], links: Iterable[str]) -> str:
    """The bookmarkable index of every validation's Data Docs, newest first: audit days (the
    output tables) and ingest batches (the input rows each ingest added).

    `summaries` are the summary.json payloads and `links` the relative link of each one's run
    index, in the same order.
    """
    pairs = sorted(
        zip(summaries, links, strict=True),
        key=lambda p: (p[0]["audit_date"], p[0].get("validated_at", "")),
        reverse=True,
    )
    return _render("runs.html.j2", runs=[run_line(s, link) for s, link in pairs])


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )


def _render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(csp=CSP, **context)


def _write(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
