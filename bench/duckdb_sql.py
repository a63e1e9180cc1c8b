"""An independent DuckDB SQL implementation of follow-up (docs/metrics.md §1) and of the
concession-rate inputs (§3b: n, k per agent and category over the trailing window), read from
the canonical store's Parquet files (the same windows an audit day reads). The benchmark times
it against the Polars transforms and checks that both give the same rows; it follows
docs/decisions/contacts-and-follow-up.md.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import polars as pl

from configs.policy import Policy

# The day's windows of the store's canonical tables (what warehouse.store.audit_inputs reads).
_WINDOWS = """
CREATE TEMP TABLE tickets AS SELECT * FROM read_parquet({tickets}) WHERE updated_at >= TIMESTAMPTZ '{since}';
CREATE TEMP TABLE events AS SELECT * FROM read_parquet({events});
CREATE TEMP TABLE calls AS SELECT * FROM read_parquet({calls});
"""

_CONTACTS = """
CREATE TEMP TABLE contacts AS
WITH solve_events AS (
  SELECT ticket_id, occurred_at AS solved_at, actor_role AS solver_role, actor_id AS solver_id,
         row_number() OVER (PARTITION BY ticket_id ORDER BY occurred_at, event_id) AS rn
  FROM events WHERE event_type = 'status_change' AND new_status IN ('solved', 'closed')
),
first_solve AS (
  SELECT ticket_id, solved_at, solver_role, solver_id FROM solve_events WHERE rn = 1
  UNION ALL
  SELECT t.ticket_id, t.solved_at, NULL, NULL FROM tickets t
  WHERE t.status IN ('solved', 'closed') AND t.solved_at IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM solve_events s WHERE s.ticket_id = t.ticket_id)
),
assignments AS (
  SELECT ticket_id, occurred_at, assignee_id, team_id,
         row_number() OVER (PARTITION BY ticket_id, occurred_at ORDER BY event_id DESC) AS rn
  FROM events WHERE event_type = 'assignment'
),
agent_teams AS (
  SELECT assignee_id AS agent_id, occurred_at, team_id,
         row_number() OVER (PARTITION BY assignee_id, occurred_at ORDER BY event_id DESC) AS rn
  FROM events WHERE event_type = 'assignment' AND team_id IS NOT NULL
),
solved AS (
  SELECT f.*, t.customer_id, t.category, t.priority, t.created_at, t.assignee_id, t.team_id AS ticket_team,
         a.assignee_id AS assignee_at_solve
  FROM first_solve f JOIN tickets t USING (ticket_id)
  ASOF LEFT JOIN (SELECT * FROM assignments WHERE rn = 1) a
    ON f.ticket_id = a.ticket_id AND f.solved_at >= a.occurred_at
),
attributed AS (
  SELECT *, CASE WHEN solver_role = 'agent' AND solver_id IS NOT NULL THEN solver_id
                 ELSE coalesce(assignee_at_solve, assignee_id) END AS agent_id
  FROM solved
)
SELECT 'ticket' AS contact_type, s.ticket_id AS contact_id, s.customer_id, s.category, s.priority,
       s.agent_id, coalesce(g.team_id, s.ticket_team) AS team_id, s.created_at AS opened_at,
       s.solved_at AS closed_at, CAST(s.solved_at AS DATE) AS audit_date, NULL::VARCHAR AS outcome,
       s.ticket_id AS linked_ticket_id
FROM attributed s
ASOF LEFT JOIN (SELECT * FROM agent_teams WHERE rn = 1) g
  ON s.agent_id = g.agent_id AND s.solved_at >= g.occurred_at
UNION ALL
SELECT 'call', c.call_id, c.customer_id, coalesce(c.category, t.category), NULL, c.agent_id, c.team_id,
       c.initiated_at, c.ended_at, CAST(c.ended_at AS DATE), c.outcome, c.ticket_id
FROM calls c LEFT JOIN tickets t USING (ticket_id)
WHERE c.answered_at IS NOT NULL;
"""

_FOLLOW_UP = """
WITH eligible AS (
  SELECT *,
    CASE WHEN contact_type = 'call' AND outcome = 'callback_promised' THEN 'callback_promised'
         WHEN {in_categories} AND (contact_type = 'ticket' OR outcome = 'resolved') THEN 'category'
         WHEN contact_type = 'ticket' AND priority IN ('high', 'urgent') THEN 'priority'
    END AS eligibility
  FROM contacts WHERE audit_date = DATE '{day}'
),
windowed AS (
  SELECT *, closed_at + CASE WHEN eligibility = 'callback_promised'
                             THEN to_microseconds({callback_us}) ELSE to_microseconds({window_us}) END
            AS window_end_at
  FROM eligible WHERE eligibility IS NOT NULL
),
attempts AS (
  SELECT t.customer_id, e.event_id AS follow_up_id, e.occurred_at AS follow_up_at
  FROM events e JOIN tickets t USING (ticket_id)
  WHERE e.event_type = 'follow_up' AND e.actor_role <> 'customer'
  UNION ALL
  SELECT customer_id, call_id, initiated_at FROM calls
  WHERE direction IN ('outbound', 'callback') AND (answered_at IS NOT NULL OR {count_unanswered})
),
firsts AS (
  SELECT contact_type, contact_id, follow_up_id, follow_up_at FROM (
    SELECT w.contact_type, w.contact_id, a.follow_up_id, a.follow_up_at,
           row_number() OVER (PARTITION BY w.contact_type, w.contact_id
                              ORDER BY a.follow_up_at, a.follow_up_id) AS rn
    FROM windowed w JOIN attempts a USING (customer_id)
    WHERE a.follow_up_at > w.closed_at AND a.follow_up_at <= w.window_end_at
      AND a.follow_up_at <= TIMESTAMPTZ '{cutoff}'
  ) WHERE rn = 1
),
returns AS (
  SELECT t.customer_id, e.occurred_at AS returned_at, NULL AS new_ticket_id
  FROM events e JOIN tickets t USING (ticket_id)
  WHERE e.event_type = 'comment' AND e.actor_role = 'customer'
  UNION ALL SELECT customer_id, created_at, ticket_id FROM tickets
  UNION ALL SELECT customer_id, initiated_at, NULL FROM calls WHERE direction = 'inbound'
),
with_first AS (
  SELECT w.*, f.follow_up_id, f.follow_up_at
  FROM windowed w LEFT JOIN firsts f USING (contact_type, contact_id)
),
came_back AS (
  SELECT DISTINCT w.contact_type, w.contact_id FROM with_first w JOIN returns r USING (customer_id)
  WHERE r.returned_at > w.closed_at AND r.returned_at <= w.window_end_at
    AND r.returned_at <= TIMESTAMPTZ '{cutoff}'
    AND coalesce(r.new_ticket_id <> w.linked_ticket_id, true)
    AND (w.follow_up_at IS NULL OR r.returned_at < w.follow_up_at)
)
SELECT w.contact_type, w.contact_id, w.agent_id, w.team_id, w.customer_id,
       CASE WHEN w.window_end_at > TIMESTAMPTZ '{cutoff}' THEN 'pending'
            WHEN w.follow_up_id IS NOT NULL THEN 'met' ELSE 'missed' END AS status,
       w.follow_up_id,
       date_diff('microsecond', w.closed_at, w.follow_up_at) / 3600000000.0 AS hours_to_follow_up,
       c.contact_id IS NOT NULL AS is_customer_came_back_first,
       w.closed_at, w.window_end_at
FROM with_first w LEFT JOIN came_back c USING (contact_type, contact_id)
"""

_RATE_CELLS = """
WITH granted AS (
  SELECT DISTINCT 'ticket' AS contact_type, ticket_id AS contact_id FROM events
  WHERE event_type = 'concession' AND occurred_at < TIMESTAMPTZ '{day_end}'
  UNION
  SELECT DISTINCT 'call', call_id FROM calls
  WHERE concession_type IS NOT NULL AND ended_at < TIMESTAMPTZ '{day_end}'
)
SELECT c.agent_id, c.category, count(*) AS n, count(g.contact_id) AS k
FROM contacts c LEFT JOIN granted g USING (contact_type, contact_id)
WHERE c.audit_date BETWEEN DATE '{start}' AND DATE '{day}' AND c.agent_id IS NOT NULL
GROUP BY c.agent_id, c.category
"""


def _micros(hours: float) -> int:
    return round(hours * 3_600_000_000)


def _files(uris: list[str]) -> str:
    return "[" + ", ".join(f"'{u}'" for u in uris) + "]"


def follow_up_and_rate_cells(
    files: dict[str, list[str]], since: datetime, day: date, cutoff: datetime, policy: Policy
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(follow-up evidence, concession-rate cells) for audit day `day`, computed in DuckDB from the
    store files of the day's windows (`files` per entity; tickets changed since `since`)."""
    con = duckdb.connect()
    con.execute(f"SET TimeZone = '{policy.business_time_zone}'")
    con.execute(
        _WINDOWS.format(
            tickets=_files(files["tickets"]),
            events=_files(files["ticket_events"]),
            calls=_files(files["calls"]),
            since=since.isoformat(),
        )
    )
    con.execute(_CONTACTS)
    fu = policy.follow_up
    in_categories = (
        "true"
        if fu.categories == "all"
        else "category IN (" + ", ".join(f"'{c}'" for c in fu.categories) + ")"
    )
    evidence = con.sql(
        _FOLLOW_UP.format(
            in_categories=in_categories,
            day=day.isoformat(),
            window_us=_micros(fu.window_hours),
            callback_us=_micros(fu.callback_promised_window_hours),
            count_unanswered=str(fu.count_unanswered_attempts).lower(),
            cutoff=cutoff.isoformat(),
        )
    ).pl()
    from transforms.contacts import AuditWindow

    day_end = AuditWindow(day, policy.business_time_zone, cutoff).day_end_at
    start = day - timedelta(days=policy.concessions.window_days - 1)
    cells = con.sql(
        _RATE_CELLS.format(day_end=day_end.isoformat(), start=start.isoformat(), day=day.isoformat())
    ).pl()
    con.close()
    return evidence, cells
