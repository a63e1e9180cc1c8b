"""Which export days a run reads, what it knows, and which day it audits by default.

Pure date arithmetic from the policy, kept out of the flow so it can be tested alone.
Exports are incremental: a contact closed on D can depend on history (peer baselines,
repeat contacts: look-back) and on what happened after it (follow-up, reopen, repeat
contact: look-ahead). The run reads export days [D - lookback, D + lookahead].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from configs.policy import Policy

# Extra history read before the longest look-back window, so that tickets opened before
# the window (and solved inside it) still have their creation and reply events.
HISTORY_SLACK_DAYS = 14


@dataclass(frozen=True)
class ExportRange:
    start: date
    end: date

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def lookback_days(policy: Policy) -> int:
    """Longest window that reaches back from D, plus history slack; at least the amount-outlier
    history.

    An amount outlier may be tested late, on the first day its group qualifies: deciding that for
    a concession granted on the window's first day, D-(window_days-1), takes the concessions of
    the window ending that day, so they reach back 2 (window_days - 1) days
    (`transforms.concessions.outlier_history_start`). They need no slack: only the concessions
    themselves are counted.
    """
    longest = max(
        policy.concessions.window_days - 1,
        policy.escalation.repeat_window_days,
        policy.resolution.repeat_window_days,
    )
    outlier_history = 2 * (policy.concessions.window_days - 1)
    return max(longest + HISTORY_SLACK_DAYS, outlier_history)


def lookahead_days(policy: Policy) -> int:
    """Longest window that reaches forward from the end of D, in whole days."""
    hours = max(policy.follow_up.window_hours, policy.follow_up.callback_promised_window_hours)
    return max(
        math.ceil(hours / 24),
        policy.escalation.came_back_window_days,
        policy.resolution.repeat_window_days,
    )


def export_range(audit_date: date, policy: Policy, time_zone: str = "UTC") -> ExportRange:
    return ExportRange(
        audit_date - timedelta(days=lookback_days(policy)), lookahead_end(audit_date, policy, time_zone)
    )


def lookahead_end(audit_date: date, policy: Policy, time_zone: str = "UTC") -> date:
    """The last export day D's windows need: the local day on which the look-ahead, taken as
    elapsed hours (`lookahead_days` x 24, as windows are measured) from D's last instant, ends.
    That is D + `lookahead_days`, one day more when a spring-forward (23-hour) day lies in
    between: a 168-hour window from 23:30 on D then ends after D+7's midnight, and a range of
    whole days would leave it pending on every re-run."""
    zone = ZoneInfo(time_zone)
    day_end = datetime.combine(audit_date + timedelta(days=1), time(0), tzinfo=zone).astimezone(
        ZoneInfo("UTC")
    )
    window_end = (day_end + timedelta(days=lookahead_days(policy))).astimezone(zone)
    return (window_end - timedelta(microseconds=1)).date()


def final_days(newest: date, policy: Policy, time_zone: str = "UTC") -> list[date]:
    """The days whose longest windows close with export day `newest`: D = newest - lookahead,
    and the day before it when a spring-forward day makes its range one day longer."""
    candidates = [newest - timedelta(days=lookahead_days(policy) + back) for back in (1, 0)]
    return [d for d in candidates if lookahead_end(d, policy, time_zone) == newest]


def data_cutoff(newest_export: date | None, audit_date: date, time_zone: str) -> datetime:
    """End of the newest export day read (next local midnight) as UTC.

    With no export at or after D nothing after D's start is known.
    """
    day = newest_export + timedelta(days=1) if newest_export else audit_date
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(time_zone)).astimezone(ZoneInfo("UTC"))


def default_audit_date(newest_export: date, policy: Policy) -> date:
    """The newest day whose follow-up windows have all closed by the newest export's end."""
    hours = max(policy.follow_up.window_hours, policy.follow_up.callback_promised_window_hours)
    return newest_export - timedelta(days=math.ceil(hours / 24))
