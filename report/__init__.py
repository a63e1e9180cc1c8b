"""The audit report QA leads open: HTML per audit day, and terminal views."""

from report.build import build_report, publish_report, report_key

__all__ = ["build_report", "publish_report", "report_key"]
