"""The run manifest: one row per run saying exactly what went in and what came out.

One row per run (not per file), with the per-file inputs as a list of structs, so that
"what did run X do" is one row and history is an append-only Delta table; DuckDB
`unnest(inputs)` or Polars `explode("inputs")` gives the per-file view. A run that fails
the gate still writes its row, with status `failed` and the reason.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import polars as pl

from catalogue import INPUT_FILE_SCHEMA, MANIFEST_TABLE, ROW_COUNTS, TABLES
from configs.policy import Policy
from configs.settings import AuditSettings

PACKAGE = "support-audit"
REPO_ROOT = Path(__file__).resolve().parents[1]

REQUIRED_INPUT_COLUMNS = (
    "entity",
    "object_key",
    "etag",
    "size_bytes",
    "rows_read",
    "rows_accepted",
    "rows_quarantined",
    "rows_duplicate",
)
MANIFEST_SCHEMA = pl.Schema({n: t for n, t in TABLES[MANIFEST_TABLE].schema.items()})


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def _git(repo: Path, *args: str) -> str | None:
    """A git command's output in `repo`; None outside a checkout (an installed wheel) or without git."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def git_commit(repo: Path = REPO_ROOT) -> str | None:
    """The checked-out commit, or None outside a git checkout (an installed wheel)."""
    out = _git(repo, "rev-parse", "HEAD")
    return out.strip() or None if out is not None else None


def uncommitted_digest(repo: Path = REPO_ROOT) -> str | None:
    """8 hex digits of a hash of the checkout's uncommitted changes to tracked files (their diff
    against HEAD); None when there are none, or outside a checkout. Two different sets of edits
    on one commit get two digests, so their runs do not look like the same code."""
    diff = _git(repo, "diff", "HEAD", "--no-ext-diff", "--binary")
    return hashlib.sha256(diff.encode()).hexdigest()[:8] if diff else None


@functools.cache
def running_code() -> tuple[str | None, str | None]:
    """(commit, digest of uncommitted changes) of the code this process runs: read once, when
    this module is imported, so a commit landing in the checkout while a run goes on never
    relabels the run's later days (a backfill recorded two code versions in one run, and
    `--resume` trusts the label)."""
    return git_commit(), uncommitted_digest()


running_code()


def code_version() -> tuple[str, str | None, str]:
    """(package version, git commit, combined label): `0.1.0` from a wheel, `0.1.0+g1a2b3c4d5e6f`
    from a clean checkout, `0.1.0+g1a2b3c4d5e6f.d0a1b2c3d` with uncommitted changes."""
    version, (commit, edits) = package_version(), running_code()
    if commit is None:
        return version, None, version
    return version, commit, f"{version}+g{commit[:12]}" + (f".d{edits}" if edits else "")


def config_hash(settings: AuditSettings, policy: Policy) -> str:
    """One hash over the effective settings and policy: equal hashes, equal configuration."""
    return hashlib.sha256(f"{settings.digest()}:{policy.digest()}".encode()).hexdigest()[:16]


def input_files_frame(rows: list[Mapping[str, object]] | pl.DataFrame) -> pl.DataFrame:
    """Per-object input statistics in the manifest's shape (ingestion's `size` is accepted
    for `size_bytes`; optional columns default to null, rows_superseded to 0)."""
    frame = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(rows, infer_schema_length=None)
    if frame.width == 0:  # no input objects at all (an empty day)
        return pl.DataFrame(schema=INPUT_FILE_SCHEMA)
    if "size" in frame.columns and "size_bytes" not in frame.columns:
        frame = frame.rename({"size": "size_bytes"})
    missing = set(REQUIRED_INPUT_COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"input file statistics lack column(s) {sorted(missing)}")
    defaults = {"rows_superseded": pl.lit(0)}
    return frame.select(
        (pl.col(n) if n in frame.columns else defaults.get(n, pl.lit(None))).cast(t).alias(n)
        for n, t in INPUT_FILE_SCHEMA.items()
    ).sort("entity", "object_key")


def build_manifest(
    *,
    run_id: str,
    audit_date: dt.date,
    started_at: dt.datetime,
    input_files: pl.DataFrame,
    policy: Policy,
    settings: AuditSettings,
    status: str = "pending",
    failure_reason: str | None = None,
    finished_at: dt.datetime | None = None,
    validation: list[dict[str, object]] | None = None,
    failed_expectations: list[str] | None = None,
    tables: Mapping[str, tuple[int, int]] | None = None,
    data_docs_uri: str | None = None,
    store_versions: Mapping[str, int] | None = None,
    attempt: int | None = None,
    pseudonym_key_id: str | None = None,
) -> pl.DataFrame:
    """The manifest row. `tables` maps table -> (version written, rows written)."""
    files = input_files_frame(input_files)
    version, commit, label = code_version()
    totals = {c: int(files[c].sum()) for c in ROW_COUNTS}
    checks = validation or []
    row = {
        "audit_date": audit_date,
        "run_id": run_id,
        "status": status,
        "attempt": attempt,
        "failure_reason": failure_reason,
        "started_at": started_at,
        "finished_at": finished_at,
        "policy_version": policy.version,
        "policy_digest": policy.digest(),
        "config_hash": config_hash(settings, policy),
        "package_version": version,
        "git_commit": commit,
        "code_version": label,
        "input_files": files.height,
        **totals,
        "inputs": files.to_dicts(),
        "is_critical_passed": all(bool(v["critical_passed"]) for v in checks) if checks else None,
        "validation": sorted(checks, key=lambda v: str(v["suite"])),
        "failed_expectations": failed_expectations or [],
        "tables": [{"table": t, "version": v, "rows": n} for t, (v, n) in sorted((tables or {}).items())],
        "data_docs_uri": data_docs_uri,
        "store_versions": [{"table": t, "version": v} for t, v in sorted((store_versions or {}).items())],
        "pseudonym_key_id": pseudonym_key_id,
    }
    return pl.DataFrame([row], schema=MANIFEST_SCHEMA)
