"""Synthetic ticket and call exports in the contract layout, with planted behaviours (`audit generate`).

See docs/sample_data.md for what is generated and what is planted.
"""

from devtools.sample_data.config import Behaviour, GeneratorConfig, benchmark_config
from devtools.sample_data.generate import (
    PLANTS_KEY,
    Dataset,
    GenerationSummary,
    build_dataset,
    ensure_benchmark_exports,
    ensure_exports,
    generate_exports,
)

__all__ = [
    "PLANTS_KEY",
    "Behaviour",
    "Dataset",
    "GenerationSummary",
    "GeneratorConfig",
    "benchmark_config",
    "build_dataset",
    "ensure_benchmark_exports",
    "ensure_exports",
    "generate_exports",
]
