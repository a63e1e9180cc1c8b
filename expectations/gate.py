"""The audit step of write-audit-publish: run every suite, write Data Docs, decide.

Frames are validated as Great Expectations sees them through `redact_personal`: personal
and free-text values are replaced by a constant (nullness kept), and suites over frames
with personal columns also exclude unexpected values, so neither results nor Data Docs
can carry a customer's data. Failing rows are identified by their key columns only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe
import polars as pl
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig

from catalogue import SUMMARY_FILE
from expectations import SUITES
from expectations._results import SAMPLE_KEYS, column, index_rows, observed, plain, sample_keys, severity
from expectations._suite import CRITICAL, Suite, SuiteParams, View
from expectations.data_docs_pages import write_run_pages
from transforms.pseudonym import CUSTOMER_KEY, FREE_TEXT_COLUMNS, PERSONAL_COLUMNS, redact_personal

log = logging.getLogger(__name__)

# Suites over frames with any of these columns never return unexpected values.
SENSITIVE_COLUMNS = PERSONAL_COLUMNS | FREE_TEXT_COLUMNS | {CUSTOMER_KEY, "subject_id"}
RESULTS_DIR = "results"
# Result fields that may hold row values; only key columns are kept (unexpected_index_list).
VALUE_FIELDS = (
    "partial_unexpected_list",
    "partial_unexpected_counts",
    "unexpected_list",
    "unexpected_rows",
    "unexpected_index_query",
    "partial_unexpected_index_list",
)


@dataclass(frozen=True)
class FailedExpectation:
    suite: str
    expectation_type: str
    column: str | None
    severity: str
    unexpected_count: int | None
    sample_keys: tuple[dict[str, Any], ...] = ()
    observed: str | None = None  # table-level results (e.g. a row count); never row values
    validation: str | None = None  # the GX suite (Data Docs page, results file); may be a view

    def describe(self) -> str:
        where = f".{self.column}" if self.column else ""
        if self.validation and self.validation != self.suite:  # a long view: its Data Docs page
            where += f" [{self.validation}]"
        count = f" ({self.unexpected_count} rows)" if self.unexpected_count else ""
        observed = f" (observed {self.observed})" if self.observed is not None else ""
        keys = f" e.g. {list(self.sample_keys[:3])}" if self.sample_keys else ""
        return f"{self.suite}{where}: {self.expectation_type}{count}{observed}{keys}"


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    success: bool
    critical_passed: bool
    rows: int
    evaluated: int
    successful: int
    unsuccessful: int


@dataclass(frozen=True)
class ValidationReport:
    run_id: str
    audit_date: dt.date
    suites: tuple[SuiteResult, ...]
    failures: tuple[FailedExpectation, ...]
    docs_dir: Path
    validated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    label: str = ""  # what was validated, when not an audit day (an ingest batch)

    @property
    def critical_passed(self) -> bool:
        return all(s.critical_passed for s in self.suites)

    @property
    def critical_failures(self) -> tuple[FailedExpectation, ...]:
        return tuple(f for f in self.failures if f.severity == CRITICAL)

    @property
    def warnings(self) -> tuple[FailedExpectation, ...]:
        return tuple(f for f in self.failures if f.severity != CRITICAL)

    def suite(self, name: str) -> SuiteResult:
        return next(s for s in self.suites if s.suite == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "audit_date": self.audit_date.isoformat(),
            "label": self.label,
            "validated_at": self.validated_at.isoformat(),
            "critical_passed": self.critical_passed,
            "suites": [asdict(s) for s in self.suites],
            "failures": [asdict(f) for f in self.failures],
        }

    def raise_for_critical(self) -> None:
        if not self.critical_passed:
            raise ValidationFailed(self)


class ValidationFailed(RuntimeError):
    """Critical expectations failed: nothing is published for the day."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        lines = "\n  ".join(f.describe() for f in report.critical_failures)
        super().__init__(
            f"validation failed for audit_date {report.audit_date} run {report.run_id}: "
            f"{len(report.critical_failures)} critical expectation(s) failed:\n  {lines}"
        )


def run_validation(
    frames: Mapping[str, pl.DataFrame | pl.LazyFrame],
    *,
    run_id: str,
    audit_date: dt.date,
    docs_dir: Path,
    params: SuiteParams | None = None,
    label: str = "",
) -> ValidationReport:
    """Validate each frame with its suite (by name), write Data Docs under docs_dir.

    A frame may be lazy (a scan of Parquet files): each validation then reads only the columns
    it checks.

    A table with long views (the scorecards) is several GX validations, each its own Data
    Docs page and results file, reported as one SuiteResult. Writes docs_dir/index.html (the
    run's Data Docs, expectations.data_docs_pages), validations/<validation>.html,
    results/<validation>.json (results with key columns only) and summary.json (what the
    runs index reads).
    """
    unknown = sorted(set(frames) - set(SUITES))
    if unknown:
        raise ValueError(f"no expectation suite for frame(s) {unknown}; known: {sorted(SUITES)}")
    params = params or SuiteParams()
    docs_dir = Path(docs_dir)
    context = _context()
    gx_run = RunIdentifier(run_name=run_id, run_time=dt.datetime.now(dt.UTC))
    suites, failures = [], []
    pages: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name in sorted(frames):
        suite = SUITES[name]
        results, suite_failures, rows = [], [], []
        validations: tuple[Suite | View, ...] = (suite, *suite.views)
        for validation in validations:
            result, height = _validate(context, validation, frames[name].lazy(), params, gx_run)
            _write_json(docs_dir / RESULTS_DIR / f"{validation.name}.json", result)
            suite_failures += _failures(name, result, validation)
            results.append(result)
            rows.append(height)
            pages.setdefault(name, []).append((validation.name, result))
        failures.extend(suite_failures)
        suites.append(_suite_result(name, rows[0], results, suite_failures))  # rows[0]: the table itself
    report = ValidationReport(run_id, audit_date, tuple(suites), tuple(failures), docs_dir, label=label)
    written = write_run_pages(docs_dir, report, pages)
    _write_json(docs_dir / SUMMARY_FILE, report.to_dict() | {"pages": written})
    log.info("validation %s: critical_passed=%s", run_id, report.critical_passed)
    return report


def _suite_result(
    name: str, rows: int, results: list[dict[str, Any]], failures: list[FailedExpectation]
) -> SuiteResult:
    """One table's validations (its suite and any long views) summed."""

    def total(field: str) -> int:
        return sum(int(r["statistics"][field]) for r in results)

    return SuiteResult(
        suite=name,
        success=all(bool(r["success"]) for r in results),
        critical_passed=not any(f.severity == CRITICAL for f in failures),
        rows=rows,
        evaluated=total("evaluated_expectations"),
        successful=total("successful_expectations"),
        unsuccessful=total("unsuccessful_expectations"),
    )


def _context() -> Any:
    """An in-memory context that builds no Data Docs site: GX's pages load their styles and
    scripts from CDNs and show no severity, so the run's pages are our own."""
    context = gx.get_context(mode="ephemeral")
    context.enable_analytics(False)  # an audit run sends nothing anywhere
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _checked(validation: Suite | View, frame: pl.LazyFrame, params: SuiteParams) -> pl.LazyFrame:
    """The frame with its check columns (a suite), or the long frame (a view)."""
    if isinstance(validation, View):
        return validation.derive(frame, params)
    checked = validation.prepared(frame)
    try:
        checked.collect_schema()
    except pl.exceptions.ColumnNotFoundError:
        return frame  # a missing column fails its expectations (and the check columns)
    return checked


def _validate(
    context: Any, suite: Suite | View, frame: pl.LazyFrame, params: SuiteParams, gx_run: RunIdentifier
) -> tuple[dict[str, Any], int]:
    # Checks see real values; GX sees only the redacted view, and only the columns it reads.
    redacted = redact_personal(_checked(suite, frame, params))
    columns = redacted.collect_schema().names()
    expectations = suite.expectations(columns, params)
    # One suite built whole: adding expectations one by one re-serialises the suite each time.
    gx_suite = context.suites.add(gx.ExpectationSuite(name=suite.name, expectations=expectations))
    if len(gx_suite.expectations) != len(expectations):  # the constructor only logs a bad one
        raise ValueError(f"suite {suite.name}: {len(expectations) - len(gx_suite.expectations)} invalid")
    asset = context.data_sources.add_pandas(f"frames_{suite.name}").add_dataframe_asset(suite.name)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(
            name=suite.name, data=asset.add_batch_definition_whole_dataframe("day"), suite=gx_suite
        )
    )
    personal = bool(set(columns) & (PERSONAL_COLUMNS | FREE_TEXT_COLUMNS | {CUSTOMER_KEY, "subject_id"}))
    prepared = redacted.select(_read_columns(expectations, suite.index, columns)).collect()
    result_format = {
        "result_format": "COMPLETE",
        "unexpected_index_column_names": [c for c in suite.index if c in columns],
        "exclude_unexpected_values": personal,
        "return_unexpected_index_query": False,
        "partial_unexpected_count": SAMPLE_KEYS,
    }
    result = definition.run(
        batch_parameters={"dataframe": prepared.to_pandas()},
        result_format=result_format,
        run_id=gx_run,
    )
    return _sanitise(result.to_json_dict()), prepared.height


def _read_columns(expectations: list[gxe.Expectation], index: Iterable[str], columns: list[str]) -> list[str]:
    """The columns GX needs: those the expectations read and the failing-row keys, in frame order.

    GX's pandas engine holds every value it is handed as a Python object; at a large centre's
    16.8M event rows, the free text and ids no expectation reads cost most of the memory. A
    table-level column-set check needs every column, and a frame keeps one column for its rows.
    """
    wanted = set(index)
    for expectation in expectations:
        if getattr(expectation, "column_set", None) is not None:
            return columns
        wanted.update(
            v
            for f in ("column", "column_A", "column_B")
            if isinstance(v := getattr(expectation, f, None), str)
        )
        wanted.update(getattr(expectation, "column_list", None) or ())
    read = [c for c in columns if c in wanted]
    return read or columns


def _sanitise(result: dict[str, Any]) -> dict[str, Any]:
    """Keep statistics, configuration and failing keys; drop every field that holds values."""
    for item in result.get("results", []):
        for name in VALUE_FIELDS:
            item.get("result", {}).pop(name, None)
        info = item.get("exception_info") or {}
        if info.get("exception_traceback"):
            info["exception_traceback"] = None  # tracebacks may quote data; the message says enough
    result.get("meta", {}).pop("batch_parameters", None)
    return result


def _failures(table: str, result: dict[str, Any], validation: Suite | View) -> list[FailedExpectation]:
    out = []
    for item in result.get("results", []):
        if item.get("success"):
            continue
        config = item["expectation_config"]
        kwargs = config.get("kwargs", {})
        detail = item.get("result") or {}
        raised = (item.get("exception_info") or {}).get("exception_message")
        failure = FailedExpectation(
            suite=table,
            expectation_type=config["type"],
            column=column(kwargs),
            severity=severity(config),
            unexpected_count=detail.get("unexpected_count"),
            sample_keys=sample_keys(detail),
            observed=observed(detail, raised),
            validation=validation.name,
        )
        out += _per_item(failure, kwargs, detail, validation) if isinstance(validation, View) else [failure]
    return out


def _per_item(
    failure: FailedExpectation, kwargs: Mapping[str, Any], detail: Mapping[str, Any], view: View
) -> list[FailedExpectation]:
    """A long view's failure, split per item (metric): named by the table's column, counted and
    sampled per item, so it reads as the wide check it replaces."""
    rows = index_rows(detail)
    if not rows or any(view.item not in row for row in rows):
        return [failure]  # no failing rows to split (e.g. the check raised)
    by_item: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_item.setdefault(str(row[view.item]), []).append({k: v for k, v in row.items() if k != view.item})
    return [
        replace(
            failure,
            column=column(kwargs, partial(view.wide_column, item)),
            unexpected_count=len(keys),
            sample_keys=tuple({k: plain(v) for k, v in key.items()} for key in keys[:SAMPLE_KEYS]),
        )
        for item, keys in sorted(by_item.items())
    ]


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, sort_keys=True, default=str), encoding="utf-8")
