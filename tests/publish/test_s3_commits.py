"""S3 commits rely on conditional writes (If-None-Match), never on an unsafe rename."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from botocore.exceptions import ClientError
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError

from warehouse.delta import publish_table, read_table, storage_options, table_history, table_uri

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 11, 20)


def frame(agent: str, run_id: str) -> pl.DataFrame:
    return pl.DataFrame({"audit_date": [DAY], "agent_id": [agent], "run_id": [run_id]})


def test_endpoint_refuses_to_overwrite_an_existing_commit_file(s3_bucket):
    client = s3_bucket.storage().client
    key = "warehouse/t/_delta_log/00000000000000000000.json"
    client.put_object(Bucket=s3_bucket.name, Key=key, Body=b"{}", IfNoneMatch="*")
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket=s3_bucket.name, Key=key, Body=b"{}", IfNoneMatch="*")
    assert info.value.response["Error"]["Code"] == "PreconditionFailed"


def test_a_stale_writer_never_overwrites_a_newer_commit(s3_bucket):
    warehouse = s3_bucket.uri("warehouse")
    options = storage_options(warehouse, s3_bucket.settings)
    publish_table("agent_scorecard", frame("A1", "r1"), warehouse_uri=warehouse, audit_date=DAY, run_id="r1",
                  policy_version="p", s3=s3_bucket.settings)  # fmt: skip
    stale = DeltaTable(table_uri(warehouse, "agent_scorecard"), storage_options=options)  # at version 0
    publish_table("agent_scorecard", frame("A2", "r2"), warehouse_uri=warehouse, audit_date=DAY, run_id="r2",
                  policy_version="p", s3=s3_bucket.settings)  # fmt: skip
    # The stale handle believes version 1 is free: the conditional put of 00..01.json fails,
    # delta-rs re-reads the log, sees r2 replaced what it read, and refuses to commit.
    with pytest.raises(CommitFailedError, match="concurrent transaction"):
        write_deltalake(
            stale,
            frame("A3", "r3").to_arrow(),
            mode="overwrite",
            predicate=f"audit_date = '{DAY.isoformat()}'",
            commit_properties=CommitProperties(custom_metadata={"run_id": "r3"}),
        )
    history = table_history(warehouse, "agent_scorecard", s3_bucket.settings)
    assert history["run_id"].to_list() == ["r1", "r2"]  # version 1 is still r2's commit
    assert read_table(warehouse, "agent_scorecard", s3_bucket.settings)["agent_id"].to_list() == ["A2"]
