"""Runtime settings: where data lives and how storage is reached.

Built at call time by `load_settings`, never at import time. Layers, last wins:
configs/base.toml, the environment overlay (configs/<env>.toml), AUDIT_* environment
variables, then explicit overrides (command-line options). Secrets are not settings:
the pseudonym key comes from the environment or a Prefect Secret block.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from configs.limits import InputRules, ReadLimits, TimestampBounds
from configs.policy import Policy, iana_zone, load_policy
from configs.vendors import VendorMapping, load_mapping

CONFIG_DIR = Path(__file__).parent


class S3Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = None
    region: str = "us-east-1"
    max_attempts: Annotated[int, Field(ge=1)] = 5
    connect_timeout_seconds: Annotated[float, Field(gt=0)] = 10
    read_timeout_seconds: Annotated[float, Field(gt=0)] = 60


class AuditSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AUDIT_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    env: str = "local"
    landing_uri: str = "data/landing"
    warehouse_uri: str = "data/warehouse"
    reports_uri: str = "data/reports"
    # Where a browser reaches reports_uri (e.g. https://audit.example.com/reports for a bucket
    # served as a website): runs then add link artifacts to each day's report and Data Docs.
    reports_web_url: str | None = None
    quarantine_prefix: str = "_quarantine"
    # The canonical store (Delta tables of de-duplicated tickets, events and calls, the ingest
    # ledger). It holds raw customer ids: restrict it like the landing store. None: the
    # `_canonical` folder (prefix) of the warehouse.
    store_uri: str | None = None
    # Export days merged into the store per batch on a first ingest of a long history (memory).
    ingest_batch_days: Annotated[int, Field(ge=1)] = 7
    naive_timestamps_as_utc: bool = False
    # What the landing holds: contract v1 exports, or Zendesk and Amazon Connect exports as those
    # vendors write them, read through the mapping file (docs/vendors.md).
    landing_vendor: Literal["contract", "zendesk+connect"] = "contract"
    vendor_mapping_path: str | None = None
    # What one export object may hold (decompressed size, line, value, nesting, share of bad
    # lines) and which timestamps are plausible: configs/limits.py.
    read_limits: ReadLimits = ReadLimits()
    timestamp_bounds: TimestampBounds = TimestampBounds()
    # Overrides the policy's business_time_zone (docs/policy.md); checked at load like it.
    business_time_zone: str | None = None
    policy_path: str | None = None
    # Local folder for a run's scratch files (Data Docs being built, deleted once uploaded);
    # None: the system's temporary folder.
    work_dir: str | None = None
    # How long a run waits for another run writing the same audit day (or the store) before it
    # fails with a message naming that run (warehouse/lock.py). 0: fail at once.
    lock_wait_seconds: Annotated[float, Field(ge=0)] = 0.0
    # How long a lease on S3 lasts without renewal: a holder that dies blocks others this long.
    lock_lease_seconds: Annotated[float, Field(ge=5)] = 120.0
    # Source freshness (as dbt's): a scheduled run warns when the newest export day ingested
    # ended more than `freshness_warn_hours` ago and fails past `freshness_error_hours`.
    # None: no check. Runs for a given day (--date, backfills) are not checked.
    freshness_warn_hours: Annotated[float, Field(gt=0)] | None = 48.0
    freshness_error_hours: Annotated[float, Field(gt=0)] | None = None
    # Where `audit backfill` runs its days: None (in the flow's process, one after another),
    # "local", "local:N" or a Dask scheduler address "tcp://host:8786" (flows/cluster.py).
    backfill_cluster: str | None = None
    s3: S3Settings = S3Settings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit overrides beat the environment; the TOML layers arrive as init values
        # merged underneath them in load_settings.
        return (init_settings, env_settings)

    def canonical_store_uri(self) -> str:
        """Where the canonical store lives (`store_uri`, else `<warehouse_uri>/_canonical`)."""
        return self.store_uri or f"{self.warehouse_uri.rstrip('/')}/_canonical"

    def input_rules(self) -> InputRules:
        """How ingest judges an export object (limits, plausible timestamps, naive ones)."""
        return InputRules(
            naive_timestamps_as_utc=self.naive_timestamps_as_utc,
            read_limits=self.read_limits,
            timestamp_bounds=self.timestamp_bounds,
            vendor=self.vendor_mapping(),
        )

    def vendor_mapping(self) -> VendorMapping | None:
        """The vendor mapping when the landing holds vendor exports (checked: `MappingError`)."""
        return None if self.landing_vendor == "contract" else load_mapping(self.vendor_mapping_path)

    def policy(self) -> Policy:
        return load_policy(self.policy_path)

    @field_validator("business_time_zone")
    @classmethod
    def _iana_zone(cls, value: str | None) -> str | None:
        return None if value is None else iana_zone(value)

    def time_zone(self, policy: Policy) -> str:
        return self.business_time_zone or policy.business_time_zone

    def digest(self) -> str:
        """Stable hash of the effective settings, recorded in the run manifest (without the
        local scratch folder and the backfill cluster, which cannot change an answer)."""
        exclude = {"work_dir", "backfill_cluster"}
        text = self.model_dump_json(exclude=exclude)
        mapping = self.vendor_mapping()
        if mapping is not None:  # the mapping file's content, not only its path
            text += mapping.digest()
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def load_settings(
    env: str | None = None, config_file: str | Path | None = None, **overrides: Any
) -> AuditSettings:
    """Build settings: base.toml < <env>.toml < config_file < AUDIT_* env vars < overrides.

    `env` defaults to AUDIT_ENV or "local". Overrides whose value is None are ignored,
    so CLI options can be passed through unconditionally.
    """
    import os

    env = env or os.environ.get("AUDIT_ENV", "local")
    layers = _deep_merge(_read_toml(CONFIG_DIR / "base.toml"), _read_toml(CONFIG_DIR / f"{env}.toml"))
    if config_file:
        path = Path(config_file)
        if not path.exists():
            raise FileNotFoundError(f"config file not found: {path}")
        layers = _deep_merge(layers, _read_toml(path))
    env_values = {k for k in os.environ if k.startswith("AUDIT_")}
    # Values set in the environment must beat the files, so drop file values they cover.
    for var in env_values:
        parts = var.removeprefix("AUDIT_").lower().split("__")
        node = layers
        for part in parts[:-1]:
            node = node.get(part, {}) if isinstance(node.get(part), dict) else {}
        node.pop(parts[-1], None)
    explicit = {k: v for k, v in overrides.items() if v is not None}
    merged = _deep_merge(layers, explicit)
    merged["env"] = env
    try:
        return AuditSettings(**merged)
    except ValidationError as exc:
        where = f"{config_file}, " if config_file else ""
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise SettingsError(
            f"invalid settings ({where}configs/{env}.toml, AUDIT_* variables or options): {problems}"
        ) from None


class SettingsError(ValueError):
    """The settings are wrong: the message names every bad key and where settings come from."""
