"""Errors the flows raise, and the guard that turns Rust panics into ordinary exceptions.

Polars and delta-rs surface a Rust panic as `pyo3_runtime.PanicException`, a
`BaseException`: Prefect would not retry it and failure hooks would not see a normal
failure. `panics_as_errors` converts it so retries and hooks work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from ingestion.readers import is_rust_panic

P = ParamSpec("P")
R = TypeVar("R")


class AuditError(RuntimeError):
    """A run failed for a reason worth one clear line to the user."""


class NoInput(AuditError):
    """Nothing to audit: the landing lists no exports, or the store holds none for the day's
    export range, or the newest export is too old. A run stops before writing anything: an
    empty input must never replace a published day with empty tables."""


class RustPanic(AuditError):
    """A Rust library (Polars, delta-rs) panicked; the message is the panic's."""


def panics_as_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator: re-raise a Rust panic as `RustPanic` (an `Exception`)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except Exception:
            raise
        except BaseException as exc:
            if is_rust_panic(exc):
                raise RustPanic(f"{func.__name__}: Rust panic: {exc}") from exc
            raise

    return wrapper
