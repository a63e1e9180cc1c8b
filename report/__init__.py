"""The audit report QA leads open: HTML per audit day, and terminal views.

`build_report`, `publish_report` and `report_key` are loaded on first use (PEP 562), so the
`audit` command line can register `audit report` without importing the renderer.
"""

from typing import Any

__all__ = ["build_report", "build_report_pages", "publish_report", "report_key"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from report import build

        return getattr(build, name)
    raise AttributeError(f"module 'report' has no attribute {name!r}")
