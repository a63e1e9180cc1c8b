"""Lost commit responses (a proxy on 127.0.0.1 drops them after the store applied the write).

The run succeeds with every commit its own, exactly once, and one intent and one publish
point in the manifest: a commit that meets itself on retry is recognised by its Delta app
transaction.
"""

from __future__ import annotations

import polars as pl
import pytest
import sample_frames as s
from deltalake import DeltaTable
from drop_proxy import dropping_proxy
from publish_child import publish_sample_day

from catalogue import AUDIT_TABLES, MANIFEST_TABLE
from configs.settings import load_settings
from devtools.s3_endpoint import endpoint_settings
from warehouse.delta import day_attempt, storage_options, table_uri
from warehouse.publication import manifest_rows, read_published

pytestmark = pytest.mark.integration


def commits_of(settings, name: str, attempt: int) -> int:
    uri = table_uri(settings.warehouse_uri, name)
    table = DeltaTable(uri, storage_options=storage_options(settings.warehouse_uri, settings.s3))
    return sum(1 for h in table.history() if h.get("attempt") == str(attempt))


def test_a_run_whose_commit_responses_are_lost_commits_each_once_or_leaves_the_day(s3_bucket, tmp_path):
    places = {"warehouse_uri": s3_bucket.uri("audit"), "reports_uri": s3_bucket.uri("reports")}
    direct = load_settings(**places, s3=s3_bucket.settings)
    publish_sample_day(direct, "r1")
    with dropping_proxy(s3_bucket.endpoint_url, tmp_path / "dropped.log") as proxy:
        faulty = load_settings(**places, s3=endpoint_settings(proxy.url))
        try:
            publish_sample_day(faulty, "r2")
            outcome = "succeeded"
        except Exception as exc:  # a failure is allowed, if it leaves r1's day whole
            outcome = f"failed: {exc}"
    # Every commit's first response was lost: the intent, each table, the publish point.
    assert len(proxy.dropped) == len(AUDIT_TABLES) + 2, proxy.dropped
    assert sum(f"/{MANIFEST_TABLE}/_delta_log/" in line for line in proxy.dropped) == 2

    manifest = manifest_rows(direct.warehouse_uri, direct.s3).filter(pl.col("run_id") == "r2")
    # Every lost response is recognised as the run's own commit, so the run goes on. (A run
    # that fails instead must leave the previous day: test_entry_point's interrupted publish
    # shows it; here a failure would be a regression.)
    assert outcome == "succeeded", outcome
    assert sorted(manifest["status"]) == ["publishing", "succeeded"], manifest  # each row once
    (attempt,) = set(manifest["attempt"])
    for name in AUDIT_TABLES:
        table = DeltaTable(
            table_uri(direct.warehouse_uri, name),
            storage_options=storage_options(direct.warehouse_uri, direct.s3),
        )
        assert day_attempt(table, s.DAY) == attempt, name
        assert commits_of(direct, name, attempt) == 1, name  # never committed twice
        rows = read_published(direct.warehouse_uri, name, direct.s3, s.DAY)
        assert rows is not None and set(rows["run_id"]) <= {"r2"}, name
    assert commits_of(direct, MANIFEST_TABLE, attempt) == 2  # the intent and the publish point
