"""The catalogue (catalogue/): one list of tables and metrics that every consumer reads."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

import catalogue
from devtools import outputs_doc
from transforms.parts import FamilyResult

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_docs_outputs_md_is_generated_from_the_catalogue() -> None:
    """Stale docs/outputs.md: run `python -m devtools.outputs_doc` and commit the file."""
    assert (DOCS / "outputs.md").read_text(encoding="utf-8") == outputs_doc.render()


def test_every_metric_links_to_a_section_of_metrics_md() -> None:
    anchors = _anchors((DOCS / "metrics.md").read_text(encoding="utf-8"))
    missing = {m.name: m.anchor for m in (*catalogue.METRICS, *catalogue.VOLUMES) if m.anchor not in anchors}
    assert missing == {}


def test_table_docs_links_exist() -> None:
    for table in catalogue.TABLES.values():
        page, _, anchor = table.docs.partition("#")
        assert anchor in _anchors((DOCS / page).read_text(encoding="utf-8")), table.name


def test_every_family_has_the_one_shape() -> None:
    for name, module in catalogue.FAMILIES.items():
        assert callable(getattr(module, f"audit_{name}")), name
        assert all(m.family == name for m in catalogue.METRICS if m.name in {x.name for x in module.METRICS})
    assert [f.name for f in FamilyResult.__dataclass_fields__.values()] == [
        "tables",
        "rate_parts",
        "measures",
        "counts",
    ]


def test_every_published_table_has_its_suite_and_every_suite_a_table_or_input() -> None:
    from expectations import INPUT_SUITES, SUITES

    assert {t.suite for t in catalogue.TABLES.values()} | set(INPUT_SUITES) == set(SUITES)


def test_a_metric_declared_twice_is_refused() -> None:
    from types import SimpleNamespace

    twice = SimpleNamespace(METRICS=catalogue.metrics("rate")[:1])
    with pytest.raises(ValueError, match="declared twice"):
        catalogue.gather_metrics({"a": twice, "b": twice})


def test_a_description_of_an_unpublished_column_is_refused() -> None:
    with pytest.raises(ValueError, match="not published"):
        catalogue._published(pl.Schema({"audit_date": pl.Date()}), {"audit_date": "d", "ghost": "g"}, {})


def test_published_columns_pseudonymise_and_drop_free_text() -> None:
    columns = catalogue._published(
        pl.Schema({"audit_date": pl.Date(), "customer_id": pl.String(), "body": pl.String()}),
        {"audit_date": "day", "customer_key": "pseudonym"},
        {},
    )
    assert [(c.name, c.dtype) for c in columns] == [
        ("audit_date", pl.Date()),
        ("customer_key", pl.String()),
        ("policy_version", pl.String()),
        ("run_id", pl.String()),
    ]


def test_a_table_computed_without_the_policy_has_no_policy_version() -> None:
    columns = catalogue._published(
        pl.Schema({"audit_date": pl.Date()}), {"audit_date": "day"}, {}, policy=False
    )
    assert [c.name for c in columns] == ["audit_date", "run_id"]


def test_every_policy_dependent_table_carries_the_policy_version_and_only_those() -> None:
    with_version = {name for name, t in catalogue.TABLES.items() if "policy_version" in t.schema}
    assert with_version == {
        "agent_scorecard",
        "team_scorecard",
        "queue_scorecard",
        "follow_up_audit",
        "escalation_audit",
        "concession_audit",
        "concession_flags",
        "metric_observations",
        "agent_period_scorecard",
        "team_period_scorecard",
        "peer_comparison",
        "run_manifest",
    }


def test_scorecard_columns_six_per_rate_one_per_statistic_and_count() -> None:
    names = [c.name for c in catalogue.scorecard_columns("team")]
    rates = catalogue.rate_metrics()
    stats = [f"{m.name}_{s}" for m in catalogue.metrics("measure") for s in m.stats]
    counts = [m.name for m in catalogue.metrics("count")]
    # keys, volumes, rates, statistics, the ratio's three, counts, withheld_metrics,
    # policy_version, run_id
    expected_width = 2 + 3 + 6 * len(rates) + len(stats) + 3 + len(counts) + 3
    assert len(names) == len(set(names)) == expected_width
    assert names[:5] == ["audit_date", "team_id", "contacts", "tickets_solved", "calls_answered"]
    assert names[-3:] == ["withheld_metrics", "policy_version", "run_id"]
    assert {"follow_up_ci_low", "hold_seconds_p90", "csat_score_mean", "reopen_pending"} <= set(names)


def test_headline_metrics_are_rates_in_catalogue_order() -> None:
    assert catalogue.headline_metrics() == (
        "follow_up",
        "missed_escalation",
        "first_contact_resolution",
        "reopen",
    )
