"""Synthetic ticket and call exports in the contract layout, with planted behaviours (`audit generate`).

See docs/sample_data.md for what is generated and what is planted. The names below are loaded
on first use (PEP 562): `audit` registers `generate` with the formats from `config`, and must
not pay for the generator (numpy, polars) on every command it runs.
"""

from importlib import import_module
from typing import Any

_HOMES = {
    "Behaviour": "config",
    "GeneratorConfig": "config",
    "benchmark_config": "config",
    "PLANTS_KEY": "generate",
    "Dataset": "generate",
    "GenerationSummary": "generate",
    "build_dataset": "generate",
    "ensure_benchmark_exports": "generate",
    "ensure_exports": "generate",
    "generate_exports": "generate",
    "generate_vendor_exports": "vendors",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"devtools.sample_data.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'devtools.sample_data' has no attribute {name!r}")
