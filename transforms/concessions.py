"""Inconsistent concessions (docs/metrics.md §3): policy check, rate vs peers, amounts, beneficiaries.

A concession is a `concession` ticket event or a call with `concession_type` set. Each one is checked
against the versioned policy; over the trailing window the family then looks for agents who grant
more (or less) often than peers on the same case mix, amounts out of line for their
(category, type), and customers who keep receiving concessions. Interpretations of the definitions are in
docs/decisions/concessions.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING

import polars as pl

from configs.policy import ConcessionPolicy, Policy
from transforms.contacts import AuditWindow, agent_team_roster, local_date, with_agent_team
from transforms.parts import COUNTS_SCHEMA, FamilyResult, Metric, as_parts

if TYPE_CHECKING:
    import numpy as np
from transforms.scope import DayScope, concession_window_start

TIMESTAMP = pl.Datetime("us", "UTC")

# Float noise guard for threshold comparisons (amount * rate, O/E, z): 1e-9 is far below a cent.
EPS = 1e-9
MAD_SCALE = 1.4826  # MAD -> standard deviation under normality
MEAN_AD_SCALE = 1.253314  # mean absolute deviation -> standard deviation (MAD = 0 fallback)
RATE_CELL_KEYS = ("agent_id", "category")  # one peer-test cell; agent_id null: unattributed
OUTLIER_GROUP = ("category", "concession_type")  # an amount is judged within its group

# Stable order of the `violations` list (the order docs/metrics.md names them).
VIOLATIONS = ("type_not_allowed", "over_cap", "missing_approval", "self_approved", "unknown_currency")

HIGH_RATE, LOW_RATE = "high_concession_rate", "low_concession_rate"
AMOUNT_OUTLIER, REPEAT_BENEFICIARY = "amount_outlier", "repeat_beneficiary"
FLAG_TYPES = (HIGH_RATE, LOW_RATE, AMOUNT_OUTLIER, REPEAT_BENEFICIARY)
SUBJECT_TYPES = ("agent", "customer", "concession")

ANCHOR = "3-inconsistent-concessions"
METRICS = (
    Metric(
        "concessions",
        "count",
        label="Concessions",
        description="Concessions the agent granted on the day.",
        anchor=ANCHOR,
    ),
    Metric(
        "policy_violations",
        "count",
        label="Policy violations",
        description="Concessions granted on the day with at least one policy violation.",
        anchor=ANCHOR,
    ),
    Metric(
        "concession_flags",
        "count",
        label="Concession flags",
        description="The agent's high_concession_rate and amount_outlier flags on the day.",
        anchor=ANCHOR,
    ),
)
AUDIT_TABLE, FLAGS_TABLE = "concession_audit", "concession_flags"

# What a concession is: who granted what to whom, on which contact.
_GRANT = {
    "concession_id": pl.String(),
    "contact_id": pl.String(),
    "contact_type": pl.String(),
    "agent_id": pl.String(),
    "team_id": pl.String(),
    "customer_id": pl.String(),
    "category": pl.String(),
    "customer_tier": pl.String(),
    "concession_type": pl.String(),
    "amount": pl.Float64(),
    "currency": pl.String(),
}
_APPROVAL = {"approved_by": pl.String(), "granted_at": TIMESTAMP}
CONCESSIONS_SCHEMA = pl.Schema({**_GRANT, **_APPROVAL, "audit_date": pl.Date()})
AUDIT_SCHEMA = pl.Schema(
    {
        "audit_date": pl.Date(),
        **_GRANT,
        "amount_policy_currency": pl.Float64(),
        **_APPROVAL,
        "violations": pl.List(pl.String()),
        "is_within_policy": pl.Boolean(),
        "policy_version": pl.String(),
    }
)

FLAGS_SCHEMA = pl.Schema(
    {
        "audit_date": pl.Date(),
        "flag_type": pl.String(),
        "subject_type": pl.String(),
        "subject_id": pl.String(),
        "observed": pl.Float64(),
        "expected": pl.Float64(),
        "statistic": pl.Float64(),
        "p_value": pl.Float64(),
        "q_value": pl.Float64(),
        "threshold": pl.Float64(),
        "evidence_ids": pl.List(pl.String()),
        "window_start": pl.Date(),
        "window_end": pl.Date(),
        "agent_id": pl.String(),  # the agent flagged, or who granted the flagged concession
        "team_id": pl.String(),
        "customer_id": pl.String(),  # raw; publish pseudonymises (also subject_id of customer flags)
        "contacts_in_window": pl.Int64(),
        "distinct_agents": pl.Int64(),
        "granted_on": pl.Date(),  # amount_outlier: the concession's grant day (before D: a late test)
        "policy_version": pl.String(),
    }
)

RATE_TESTS_SCHEMA = pl.Schema(
    {
        "agent_id": pl.String(),
        "contacts_in_window": pl.Int64(),
        "observed": pl.Float64(),
        "expected": pl.Float64(),
        "variance": pl.Float64(),
        "z": pl.Float64(),
        "is_tested": pl.Boolean(),
        "p_high": pl.Float64(),
        "q_high": pl.Float64(),
        "p_low": pl.Float64(),
        "q_low": pl.Float64(),
        "evidence_ids": pl.List(pl.String()),
    }
)


def window_start(window: AuditWindow, policy: ConcessionPolicy) -> date:
    """First audit day of the trailing window D-(window_days-1) .. D."""
    return concession_window_start(window, policy.window_days)


def in_window(window: AuditWindow, policy: ConcessionPolicy) -> pl.Expr:
    """Filter on `audit_date` for the trailing window, both ends included."""
    return pl.col("audit_date").is_between(window_start(window, policy), window.audit_date, closed="both")


# --- concessions ---------------------------------------------------------------------------------


def _ticket_concessions(tickets: pl.LazyFrame, events: pl.LazyFrame) -> pl.LazyFrame:
    ticket_facts = tickets.select(
        "ticket_id", "customer_id", "category", "customer_tier", pl.col("team_id").alias("ticket_team")
    )
    granted = (
        events.filter(pl.col("event_type") == "concession")
        .join(ticket_facts, on="ticket_id", how="left")
        .with_columns(
            # A customer's own id is personal data, never an agent; system concessions have no agent.
            pl.when(pl.col("actor_role").is_in(["agent", "supervisor"]))
            .then(pl.col("actor_id"))
            .alias("agent_id")
        )
    )
    return with_agent_team(granted, "occurred_at", agent_team_roster(events), fallback="ticket_team").select(
        pl.col("event_id").alias("concession_id"),
        pl.col("ticket_id").alias("contact_id"),
        pl.lit("ticket").alias("contact_type"),
        "agent_id",
        "team_id",
        "customer_id",
        "category",
        "customer_tier",
        "concession_type",
        pl.col("concession_amount").alias("amount"),
        "currency",
        "approved_by",
        pl.col("occurred_at").alias("granted_at"),
    )


def _call_concessions(tickets: pl.LazyFrame, calls: pl.LazyFrame, contacts: pl.LazyFrame) -> pl.LazyFrame:
    """Call concessions take category and tier as contacts does (the linked ticket fills gaps)."""
    as_contact = contacts.filter(pl.col("contact_type") == "call").select(
        pl.col("contact_id").alias("call_id"),
        pl.col("category").alias("contact_category"),
        pl.col("customer_tier").alias("contact_tier"),
    )
    linked = tickets.select(
        "ticket_id",
        pl.col("category").alias("ticket_category"),
        pl.col("customer_tier").alias("ticket_tier"),
    )
    return (
        calls.filter(pl.col("concession_type").is_not_null())
        .join(as_contact, on="call_id", how="left")
        .join(linked, on="ticket_id", how="left")
        .select(
            pl.col("call_id").alias("concession_id"),
            pl.col("call_id").alias("contact_id"),
            pl.lit("call").alias("contact_type"),
            "agent_id",
            "team_id",
            "customer_id",
            pl.coalesce("contact_category", "category", "ticket_category").alias("category"),
            pl.coalesce("contact_tier", "ticket_tier").alias("customer_tier"),
            "concession_type",
            pl.col("concession_amount").alias("amount"),
            "currency",
            "approved_by",
            pl.col("ended_at").alias("granted_at"),
        )
    )


def build_concessions(
    tickets: pl.LazyFrame,
    events: pl.LazyFrame,
    calls: pl.LazyFrame,
    contacts: pl.LazyFrame,
    time_zone: str,
) -> pl.LazyFrame:
    """Every concession, any date, attributed to its granting agent (`CONCESSIONS_SCHEMA`).

    `audit_date` is the day it was granted (event `occurred_at`, call `ended_at`) in the business
    time zone.
    """
    frames = [_ticket_concessions(tickets, events), _call_concessions(tickets, calls, contacts)]
    both = pl.concat([f.cast({c: CONCESSIONS_SCHEMA[c] for c in f.collect_schema().names()}) for f in frames])
    return both.with_columns(local_date(pl.col("granted_at"), time_zone).alias("audit_date")).select(
        CONCESSIONS_SCHEMA.names()
    )


# --- a. policy check -----------------------------------------------------------------------------


def _lookup(column: str, mapping: dict[str, float]) -> pl.Expr:
    if not mapping:
        return pl.lit(None, dtype=pl.Float64())
    return pl.col(column).replace_strict(mapping, default=None, return_dtype=pl.Float64())


def _is_type_allowed(policy: ConcessionPolicy) -> pl.Expr:
    """Type in allowed[category] ∪ allowed_extra_by_tier[tier]; a category with no entry allows none."""
    by_category = [f"{c}\x1f{t}" for c, types in policy.allowed.items() for t in types]
    by_tier = [f"{tier}\x1f{t}" for tier, types in policy.allowed_extra_by_tier.items() for t in types]
    category_ok = pl.concat_str("category", "concession_type", separator="\x1f").is_in(by_category)
    tier_ok = pl.concat_str("customer_tier", "concession_type", separator="\x1f").is_in(by_tier)
    return category_ok.fill_null(False) | tier_ok.fill_null(False)


def _violation(name: str, condition: pl.Expr) -> pl.Expr:
    return pl.when(condition.fill_null(False)).then(pl.lit(name))


def check_policy(concessions: pl.LazyFrame, policy: ConcessionPolicy) -> pl.LazyFrame:
    """Add `amount_policy_currency`, `violations` (in `VIOLATIONS` order) and `is_within_policy`.

    Amounts in an unknown currency have no policy amount, so over_cap and missing_approval cannot
    be evaluated for them; unknown_currency is their finding.
    """
    rate = _lookup("currency_code", policy.currencies)
    converted = concessions.with_columns(
        pl.col("currency").str.strip_chars().str.to_uppercase().alias("currency_code")
    ).with_columns((pl.col("amount") * rate).alias("amount_policy_currency"))
    amount = pl.col("amount_policy_currency")
    cap = _lookup("concession_type", policy.caps)
    violations = pl.concat_list(
        _violation("type_not_allowed", ~_is_type_allowed(policy)),
        _violation("over_cap", amount > cap + EPS),
        _violation(
            "missing_approval",
            (amount > policy.approval_threshold + EPS) & pl.col("approved_by").is_null(),
        ),
        _violation("self_approved", pl.col("approved_by") == pl.col("agent_id")),
        _violation("unknown_currency", rate.is_null()),
    ).list.drop_nulls()
    return (
        converted.with_columns(violations.alias("violations"))
        .with_columns((pl.col("violations").list.len() == 0).alias("is_within_policy"))
        .drop("currency_code")
    )


# --- b. concession rate vs peers -----------------------------------------------------------------


def rate_cells(
    contacts: pl.LazyFrame, concessions: pl.LazyFrame, window: AuditWindow, policy: ConcessionPolicy
) -> pl.LazyFrame:
    """Per (agent, category): n closed contacts in the window, k of them with a concession, and
    those contacts' ids: the peer test's sufficient statistics (`RATE_CELL_KEYS` + n, k).

    A contact has a concession when one was granted on that ticket / call before the end of D, so a
    later re-run of D does not change the answer. Contacts without an agent keep a cell of their
    own (agent_id null): they count in the peer pool. Cells of disjoint sets of customers add up
    (`combine_rate_cells`), which is how a day too large for one worker would be split.
    """
    granted = _granted(concessions, window).with_columns(pl.lit(True).alias("has_concession"))
    closed = (
        contacts.filter(in_window(window, policy))
        .join(granted, on=["contact_type", "contact_id"], how="left")
        .with_columns(pl.col("has_concession").fill_null(False))
    )
    return closed.group_by(*RATE_CELL_KEYS).agg(
        pl.len().cast(pl.Int64).alias("n"),
        pl.col("has_concession").sum().cast(pl.Int64).alias("k"),
        pl.col("contact_id").filter(pl.col("has_concession")).alias("concession_contacts"),
    )


def combine_rate_cells(parts: Iterable[pl.LazyFrame]) -> pl.LazyFrame:
    """The cells of several shards (disjoint customers) as one set: n and k add up per agent and
    category, the concession contacts are pooled. Leave-one-out rates, the test and BH are not
    additive; they run once, on the combined cells (`rate_tests_from_cells`). At least one part."""
    return (
        pl.concat(list(parts))
        .group_by(*RATE_CELL_KEYS)
        .agg(
            pl.col("n").sum(),
            pl.col("k").sum(),
            pl.col("concession_contacts").list.explode(keep_nulls=False, empty_as_null=False),
        )
    )


def _with_pools(cells: pl.LazyFrame) -> pl.LazyFrame:
    """The agents' cells with their category's pool (N_c, K_c, unattributed contacts included)."""
    pools = cells.group_by("category").agg(
        pl.col("n").sum().alias("n_category"), pl.col("k").sum().alias("k_category")
    )
    return cells.join(pools, on="category", how="left", nulls_equal=True).filter(
        pl.col("agent_id").is_not_null()
    )


def _rate_cells(
    contacts: pl.LazyFrame, concessions: pl.LazyFrame, window: AuditWindow, policy: ConcessionPolicy
) -> pl.LazyFrame:
    """The agents' cells with their category pools, for one unsplit day."""
    return _with_pools(rate_cells(contacts, concessions, window, policy))


def _granted(concessions: pl.LazyFrame, window: AuditWindow) -> pl.LazyFrame:
    """Contacts (`contact_type`, `contact_id`) with a concession granted before the end of D."""
    return (
        concessions.filter(pl.col("granted_at") < window.day_end_at)
        .select("contact_type", "contact_id")
        .unique()
    )


def _without_concession(
    contacts: pl.LazyFrame,
    concessions: pl.LazyFrame,
    window: AuditWindow,
    policy: ConcessionPolicy,
    agents: pl.LazyFrame,
) -> pl.LazyFrame:
    """Per agent of `agents`: their counted contacts (closed in the window, in a category where
    someone else closed contacts too) that had no concession, sorted: a low rate's evidence."""
    closed = contacts.filter(in_window(window, policy))
    own = closed.join(agents, on="agent_id", how="semi")
    peers = closed.select("category", pl.col("agent_id").alias("peer_id")).unique()
    with_peers = (
        own.select("agent_id", "category")
        .unique()
        .join(peers, on="category", how="inner", nulls_equal=True)
        .filter(pl.col("peer_id").ne_missing(pl.col("agent_id")))
        .select("agent_id", "category")
        .unique()
    )
    return (
        own.join(_granted(concessions, window), on=["contact_type", "contact_id"], how="anti")
        .join(with_peers, on=["agent_id", "category"], how="semi", nulls_equal=True)
        .group_by("agent_id")
        .agg(pl.col("contact_id").sort().alias("no_concession_ids"))
    )


def _benjamini_hochberg(p_values: np.ndarray, tested: np.ndarray) -> np.ndarray:
    import numpy as np  # numpy and scipy.stats (1 s) only when testing
    from scipy.stats import false_discovery_control

    q = np.full(p_values.shape, np.nan)
    if tested.any():
        q[tested] = false_discovery_control(p_values[tested], method="bh")
    return q


def exact_sums(terms: pl.Series) -> pl.Series:
    """Correctly rounded sum of each list (math.fsum): the same bits in any order.

    A float sum depends on the order of its terms, and the engine's group-by order (even its
    partial sums) varies from run to run; E and V, and so z, p and q, must not move with row order.
    """
    return pl.Series([math.fsum(values) for values in terms.to_list()], dtype=pl.Float64())


def concession_rate_tests(
    contacts: pl.LazyFrame, concessions: pl.LazyFrame, window: AuditWindow, policy: ConcessionPolicy
) -> pl.LazyFrame:
    """Per agent: O, E, V against leave-one-out peer rates, z, one-sided p and BH q both tails."""
    return rate_tests_from_cells(rate_cells(contacts, concessions, window, policy))


def rate_tests_from_cells(cells: pl.LazyFrame) -> pl.LazyFrame:
    """The peer test on a day's cells (`rate_cells`, or `combine_rate_cells` of its shards).

    A category where the agent has no peers (N_c = n_ac) gives no expectation, so it is left out
    of O, E and V. Agents are tested when V > 0; BH runs over the tested agents, once per tail.
    `evidence_ids` are the agent's counted contacts that had a concession (len == O).
    """
    peers_n = pl.col("n_category") - pl.col("n")
    peer_rate = (pl.col("k_category") - pl.col("k")) / peers_n
    has_peers = peers_n > 0
    per_agent = (
        _with_pools(cells)
        .with_columns(pl.when(has_peers).then(peer_rate).alias("p_c"))
        .group_by("agent_id")
        .agg(
            pl.col("n").sum().alias("contacts_in_window"),
            pl.col("k").filter(has_peers).sum().cast(pl.Float64).alias("observed"),
            (pl.col("n") * pl.col("p_c")).filter(has_peers).alias("expected_terms"),
            (pl.col("n") * pl.col("p_c") * (1 - pl.col("p_c"))).filter(has_peers).alias("variance_terms"),
            pl.col("concession_contacts")
            .filter(has_peers)
            .list.explode(keep_nulls=False, empty_as_null=False)
            .sort()
            .alias("evidence_ids"),
        )
        .sort("agent_id")
        .collect()
    )
    per_agent = per_agent.with_columns(
        exact_sums(per_agent["expected_terms"]).alias("expected"),
        exact_sums(per_agent["variance_terms"]).alias("variance"),
    )
    import numpy as np  # numpy and scipy imported here: every `audit` command loads this module
    from scipy.stats import norm

    observed, expected = per_agent["observed"].to_numpy(), per_agent["expected"].to_numpy()
    variance = per_agent["variance"].to_numpy()
    tested = variance > EPS
    z = np.full(variance.shape, np.nan)
    z[tested] = (observed[tested] - expected[tested]) / np.sqrt(variance[tested])

    p_high, p_low = norm.sf(z), norm.cdf(z)
    return (
        per_agent.with_columns(
            pl.Series("z", z, dtype=pl.Float64()),
            pl.Series("is_tested", tested, dtype=pl.Boolean()),
            pl.Series("p_high", p_high, dtype=pl.Float64()),
            pl.Series("q_high", _benjamini_hochberg(p_high, tested), dtype=pl.Float64()),
            pl.Series("p_low", p_low, dtype=pl.Float64()),
            pl.Series("q_low", _benjamini_hochberg(p_low, tested), dtype=pl.Float64()),
        )
        .fill_nan(None)
        .lazy()
        .select(RATE_TESTS_SCHEMA.names())
        .cast(RATE_TESTS_SCHEMA)
    )


def _rate_flag(tests: pl.LazyFrame, flag_type: str, policy: ConcessionPolicy) -> pl.LazyFrame:
    high = flag_type == HIGH_RATE
    p, q = ("p_high", "q_high") if high else ("p_low", "q_low")
    ratio = pl.col("observed") / pl.col("expected")
    low_ratio_max = 1 / policy.rate_ratio_min if policy.rate_ratio_min > 0 else math.inf
    ratio_ok = ratio >= policy.rate_ratio_min - EPS if high else ratio <= low_ratio_max + EPS
    passes = (
        pl.col("is_tested")
        & (pl.col(q) <= policy.bh_q + EPS)
        & ratio_ok
        & (pl.col("contacts_in_window") >= policy.min_contacts_for_flag)
    )
    return tests.filter(passes.fill_null(False)).select(
        pl.lit(flag_type).alias("flag_type"),
        pl.lit("agent").alias("subject_type"),
        pl.col("agent_id").alias("subject_id"),
        "observed",
        "expected",
        pl.col("z").alias("statistic"),
        pl.col(p).alias("p_value"),
        pl.col(q).alias("q_value"),
        pl.lit(policy.bh_q).alias("threshold"),
        "evidence_ids",
        "agent_id",
        "contacts_in_window",
    )


def _latest_agent_team(contacts: pl.LazyFrame, window: AuditWindow, policy: ConcessionPolicy) -> pl.LazyFrame:
    """The agent's team on D: that of their latest contact closed in the window."""
    return (
        contacts.filter(in_window(window, policy) & pl.col("team_id").is_not_null())
        .sort("agent_id", "closed_at", "contact_id")
        .group_by("agent_id", maintain_order=True)
        .last()
        .select("agent_id", "team_id")
    )


def concession_rate_flags(
    contacts: pl.LazyFrame, concessions: pl.LazyFrame, window: AuditWindow, policy: ConcessionPolicy
) -> pl.LazyFrame:
    """`high_concession_rate` (q <= bh_q, O/E >= rate_ratio_min, enough contacts) and its mirror.

    `low_concession_rate` is informational: lower tail, O/E <= 1 / rate_ratio_min. A high rate is
    reviewed on the concessions granted (`evidence_ids`), a low one on the counted contacts
    without one: an agent who never grants has no concession to show.
    """
    tests = concession_rate_tests(contacts, concessions, window, policy)
    flags = pl.concat([_rate_flag(tests, HIGH_RATE, policy), _rate_flag(tests, LOW_RATE, policy)]).collect()
    low = flags.filter(pl.col("flag_type") == LOW_RATE).select("agent_id")
    if low.height:  # rare: computed for the flagged agents only
        plain = _without_concession(contacts, concessions, window, policy, low.lazy()).collect()
        flags = (
            flags.join(plain, on="agent_id", how="left", maintain_order="left")
            .with_columns(
                pl.when(pl.col("flag_type") == LOW_RATE)
                .then(pl.col("no_concession_ids"))
                .otherwise(pl.col("evidence_ids"))
                .alias("evidence_ids")
            )
            .drop("no_concession_ids")
        )
    # Only flagged agents need a team: narrow before sorting a month of contacts.
    flagged = contacts.join(flags.lazy().select("agent_id"), on="agent_id", how="semi")
    return flags.lazy().join(_latest_agent_team(flagged, window, policy), on="agent_id", how="left")


# --- c. amounts out of line ----------------------------------------------------------------------


def robust_z(value: str, group: list[str]) -> pl.Expr:
    """(x - median) / (1.4826 MAD) within the group; when MAD is 0, 1.2533 x mean absolute deviation.

    A group whose values are all equal has z = 0 for every member.
    """
    median = pl.col(value).median().over(group)
    deviation = (pl.col(value) - median).abs()
    mad = deviation.median().over(group)
    mean_ad = deviation.mean().over(group)
    scale = pl.when(mad > 0).then(mad * MAD_SCALE).otherwise(mean_ad * MEAN_AD_SCALE)
    return pl.when(scale > 0).then((pl.col(value) - median) / scale).otherwise(0.0)


def outlier_history_start(window: AuditWindow, policy: ConcessionPolicy) -> date:
    """First grant day the amount-outlier test reads: D - 2 (window_days - 1).

    A concession granted on the window's first day, D-(window_days-1), may have been testable on
    any day of its stay; the window ending on that first day starts window_days - 1 days earlier.
    """
    return window_start(window, policy) - timedelta(days=policy.window_days - 1)


def _priced(checked: pl.LazyFrame, window: AuditWindow, policy: ConcessionPolicy) -> pl.LazyFrame:
    """Concessions with a known policy amount granted D - 2 (window_days - 1) .. D: the only ones
    that count in a group (an unknown currency has no amount to compare)."""
    return checked.filter(
        pl.col("audit_date").is_between(outlier_history_start(window, policy), window.audit_date)
        & pl.col("amount_policy_currency").is_not_null()
    )


def _qualifying_days(priced: pl.LazyFrame, window: AuditWindow, policy: ConcessionPolicy) -> pl.LazyFrame:
    """(group, day) for each day of D's window on which the group qualifies: at least
    outlier_min_group priced concessions granted in the window ending that day."""
    days = pl.LazyFrame({"day": pl.date_range(window_start(window, policy), window.audit_date, eager=True)})
    per_grant_day = priced.group_by(*OUTLIER_GROUP, "audit_date").agg(pl.len().alias("granted"))
    first = pl.col("day") - pl.duration(days=policy.window_days - 1)
    return (
        per_grant_day.join(days, how="cross")
        .filter(pl.col("audit_date").is_between(first, pl.col("day")))
        .group_by(*OUTLIER_GROUP, "day")
        .agg(pl.col("granted").sum().alias("group_size"))
        .filter(pl.col("group_size") >= policy.outlier_min_group)
        .select(*OUTLIER_GROUP, "day")
    )


def first_test_days(checked: pl.LazyFrame, window: AuditWindow, policy: ConcessionPolicy) -> pl.LazyFrame:
    """Per (category, concession_type, grant day) in D's window: `first_tested_on`, the first day
    from the grant day on whose window group qualifies (null: none yet, up to D).

    A concession is tested on that day only. The answer depends on the grant day and the group
    alone, so every concession is tested at most once, whichever day runs first, and a re-run of D
    finds the same day.
    """
    priced = _priced(checked, window, policy)
    grant_days = priced.filter(in_window(window, policy)).select(*OUTLIER_GROUP, "audit_date").unique()
    return (
        grant_days.join(_qualifying_days(priced, window, policy), on=OUTLIER_GROUP, nulls_equal=True)
        .filter(pl.col("day") >= pl.col("audit_date"))
        .group_by(*OUTLIER_GROUP, "audit_date")
        .agg(pl.col("day").min().alias("first_tested_on"))
    )


def amount_outlier_flags(
    checked: pl.LazyFrame, window: AuditWindow, policy: ConcessionPolicy
) -> pl.LazyFrame:
    """Concessions tested on D whose amount is >= outlier_robust_z above their (category, type) group.

    The group is every concession with a known policy amount granted in the window (D included), and
    needs at least outlier_min_group members. A concession is tested on the first day of its stay in
    the window on which its group is that large (`first_test_days`): its grant day, or later when the
    group was too small then. Upper tail only: a small amount is no favour. `granted_on` says
    which day it was granted, earlier than D for a late test.
    """
    group = list(OUTLIER_GROUP)
    scored = (
        checked.filter(in_window(window, policy) & pl.col("amount_policy_currency").is_not_null())
        .with_columns(
            pl.col("amount_policy_currency").median().over(group).alias("group_median"),
            robust_z("amount_policy_currency", group).alias("robust_z"),
        )
        .join(
            first_test_days(checked, window, policy), on=[*group, "audit_date"], how="left", nulls_equal=True
        )
    )
    flagged = scored.filter(
        (pl.col("first_tested_on") == window.audit_date)
        & (pl.col("robust_z") >= policy.outlier_robust_z - EPS)
    )
    return flagged.select(
        pl.lit(AMOUNT_OUTLIER).alias("flag_type"),
        pl.lit("concession").alias("subject_type"),
        pl.col("concession_id").alias("subject_id"),
        pl.col("amount_policy_currency").alias("observed"),
        pl.col("group_median").alias("expected"),
        pl.col("robust_z").alias("statistic"),
        pl.lit(policy.outlier_robust_z).alias("threshold"),
        pl.concat_list("concession_id").alias("evidence_ids"),
        "agent_id",
        "team_id",
        "customer_id",
        pl.col("audit_date").alias("granted_on"),
    )


# --- d. repeat beneficiaries ---------------------------------------------------------------------


def repeat_beneficiary_flags(
    checked: pl.LazyFrame, window: AuditWindow, policy: ConcessionPolicy
) -> pl.LazyFrame:
    """Customers granted >= repeat_beneficiary_min concessions in the window, with distinct agents."""
    per_customer = (
        checked.filter(in_window(window, policy) & pl.col("customer_id").is_not_null())
        .group_by("customer_id")
        .agg(
            pl.len().cast(pl.Int64).alias("granted"),
            pl.col("agent_id").drop_nulls().n_unique().cast(pl.Int64).alias("distinct_agents"),
            pl.col("concession_id").sort().alias("evidence_ids"),
        )
    )
    return per_customer.filter(pl.col("granted") >= policy.repeat_beneficiary_min).select(
        pl.lit(REPEAT_BENEFICIARY).alias("flag_type"),
        pl.lit("customer").alias("subject_type"),
        pl.col("customer_id").alias("subject_id"),
        pl.col("granted").cast(pl.Float64).alias("observed"),
        pl.col("granted").cast(pl.Float64).alias("statistic"),
        pl.lit(float(policy.repeat_beneficiary_min)).alias("threshold"),
        "evidence_ids",
        "customer_id",
        "distinct_agents",
    )


# --- outputs -------------------------------------------------------------------------------------


def _to_flags_schema(
    frame: pl.LazyFrame, window: AuditWindow, policy: ConcessionPolicy, policy_version: str
) -> pl.LazyFrame:
    present = frame.collect_schema().names()
    return frame.select(
        pl.lit(window.audit_date).alias("audit_date"),
        pl.lit(window_start(window, policy)).alias("window_start"),
        pl.lit(window.audit_date).alias("window_end"),
        pl.lit(policy_version).alias("policy_version"),
        *[
            pl.col(name) if name in present else pl.lit(None).alias(name)
            for name in FLAGS_SCHEMA.names()
            if name not in {"audit_date", "window_start", "window_end", "policy_version"}
        ],
    ).select(pl.col(name).cast(dtype) for name, dtype in FLAGS_SCHEMA.items())


def _counts(audit: pl.LazyFrame, flags: pl.LazyFrame) -> pl.LazyFrame:
    """Per granting agent on D: concessions, policy_violations; per agent: concession_flags.

    concession_flags counts the flags a QA lead acts on for that agent: high_concession_rate and
    amount_outlier (granting agent). low_concession_rate is informational and customer flags have
    no agent.
    """
    granted = audit.group_by("audit_date", "agent_id", "team_id").agg(
        pl.len().cast(pl.Int64).alias("concessions"),
        (~pl.col("is_within_policy")).sum().cast(pl.Int64).alias("policy_violations"),
    )
    granted_long = granted.unpivot(
        index=["audit_date", "agent_id", "team_id"], variable_name="count", value_name="value"
    )
    flagged = (
        flags.filter(
            pl.col("flag_type").is_in([HIGH_RATE, AMOUNT_OUTLIER]) & pl.col("agent_id").is_not_null()
        )
        .group_by("audit_date", "agent_id", "team_id")
        .agg(pl.len().cast(pl.Int64).alias("value"))
        .with_columns(pl.lit("concession_flags").alias("count"))
    )
    return pl.concat([as_parts(f, COUNTS_SCHEMA) for f in (granted_long, flagged)]).sort(
        "audit_date", "agent_id", "team_id", "count", nulls_last=True
    )


def audit_concessions(scope: DayScope, window: AuditWindow, policy: Policy) -> FamilyResult:
    """The concessions family for audit day D: `concession_audit` (one row per concession granted
    on D), `concession_flags` (flags raised on D) and COUNTS parts (`concessions`,
    `policy_violations`, `concession_flags`). The policy's version is stamped on every row."""
    return concession_tables(
        scope.contacts,
        scope.tickets,
        scope.ticket_events,
        scope.calls,
        window,
        policy.concessions,
        policy.version,
    )


def concession_tables(
    contacts: pl.LazyFrame,
    tickets: pl.LazyFrame,
    events: pl.LazyFrame,
    calls: pl.LazyFrame,
    window: AuditWindow,
    policy: ConcessionPolicy,
    policy_version: str,
) -> FamilyResult:
    """`audit_concessions` on explicit frames: `contacts` closed in the trailing window at least,
    tickets, events and calls covering D-2(window_days-1) .. D (`outlier_history_start`: whether
    a concession's group qualified on an earlier day of its stay)."""
    # Collected once: the rate tests collect their inputs, and audit, flags and counts all read it.
    concessions = build_concessions(tickets, events, calls, contacts, window.time_zone).collect().lazy()
    checked = check_policy(concessions, policy)
    audit = (
        checked.filter(pl.col("audit_date") == window.audit_date)
        .with_columns(pl.lit(policy_version).alias("policy_version"))
        .select(AUDIT_SCHEMA.names())
        .cast(AUDIT_SCHEMA)
        .sort("concession_id", "contact_type")
    )
    parts = [
        concession_rate_flags(contacts, concessions, window, policy),
        amount_outlier_flags(checked, window, policy),
        repeat_beneficiary_flags(checked, window, policy),
    ]
    flags = pl.concat([_to_flags_schema(p, window, policy, policy_version) for p in parts]).sort(
        "flag_type", "subject_type", "subject_id"
    )
    return FamilyResult(tables={AUDIT_TABLE: audit, FLAGS_TABLE: flags}, counts=_counts(audit, flags))
