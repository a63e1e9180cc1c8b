"""Write-audit-publish end to end against the local S3 endpoint (a moto server process).

One scenario per module, run once, then examined by each test:
  r1: good day D1            r2: the same day again (re-run)
  r3: good day D2            r4: D1 again with a planted critical violation
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
import re
import uuid
from typing import Any

import polars as pl
import pytest
import sample_frames as s
from deltalake import DeltaTable
from offline_pages import hyperlinks, remote_assets
from polars.testing import assert_frame_equal

from catalogue import AUDIT_TABLES, MANIFEST_TABLE
from configs.settings import load_settings
from devtools.s3_endpoint import DUMMY_CREDENTIALS, create_bucket, endpoint_settings
from expectations.gate import ValidationFailed
from storage import open_storage
from warehouse.delta import read_table, storage_options, table_history, table_uri
from warehouse.manifest import input_files_frame
from warehouse.publish import write_audit_publish_frames

# One worker runs the module, so its module fixture is built once (not once per xdist worker).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("write-audit-publish")]

D1, D2 = s.DAY, s.DAY + dt.timedelta(days=1)
ALL_TABLES = (*AUDIT_TABLES, MANIFEST_TABLE)
STARTED_AT = dt.datetime(2026, 11, 25, 6, tzinfo=dt.UTC)


def outputs(day: dt.date, *, broken: bool = False) -> dict[str, pl.DataFrame]:
    """The day's frames as the transforms return them (raw customer_id, no run_id)."""
    frames = {**s.metric_outputs(), "quarantine": s.quarantine().drop("run_id", "audit_date")}
    if broken:
        frames["follow_up_audit"] = frames["follow_up_audit"].with_columns(
            status=pl.when(pl.col("contact_id") == "C1").then(pl.lit("done")).otherwise("status")
        )
    return {
        k: f.with_columns(audit_date=pl.lit(day)) if "audit_date" in f.columns else f
        for k, f in frames.items()
    }


FILES = input_files_frame(
    [
        {"entity": "tickets", "object_key": "tickets/export_date=2026-11-20/a.csv", "etag": "e1",
         "size": 512, "rows_read": 4, "rows_accepted": 3, "rows_quarantined": 1, "rows_duplicate": 0},
        {"entity": "calls", "object_key": "calls/export_date=2026-11-20/b.csv.gz", "etag": "e2",
         "size": 99, "rows_read": 5, "rows_accepted": 3, "rows_quarantined": 0, "rows_duplicate": 2},
    ]
)  # fmt: skip


def snapshot(settings, day: dt.date) -> dict[str, pl.DataFrame]:
    return {t: read_table(settings.warehouse_uri, t, settings.s3, audit_date=day) for t in AUDIT_TABLES}


def versions(settings) -> dict[str, int]:
    options = storage_options(settings.warehouse_uri, settings.s3)
    return {
        t: DeltaTable(table_uri(settings.warehouse_uri, t), storage_options=options).version()
        for t in ALL_TABLES
    }


@pytest.fixture(scope="module")
def scenario(s3_endpoint: str) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in DUMMY_CREDENTIALS.items():
            mp.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        bucket = f"wap-{uuid.uuid4().hex[:16]}"
        create_bucket(s3_endpoint, bucket)
        settings = load_settings(
            warehouse_uri=f"s3://{bucket}/warehouse",
            reports_uri=f"s3://{bucket}/reports",
            s3=endpoint_settings(s3_endpoint),
        )
        policy = settings.policy()

        def run(day: dt.date, run_id: str, *, broken: bool = False) -> Any:
            return write_audit_publish_frames(
                s.inputs(), outputs(day, broken=broken), FILES, settings=settings, policy=policy,
                audit_date=day, run_id=run_id, started_at=STARTED_AT, key=s.KEY,
            )  # fmt: skip

        out: dict[str, Any] = {"settings": settings, "bucket": bucket}
        out["r1"] = run(D1, "r1")
        out["after_r1"], out["versions_r1"] = snapshot(settings, D1), versions(settings)
        out["r2"] = run(D1, "r2")
        out["after_r2"], out["versions_r2"] = snapshot(settings, D1), versions(settings)
        out["r3"] = run(D2, "r3")
        out["d1_after_r3"], out["versions_r3"] = snapshot(settings, D1), versions(settings)
        with pytest.raises(ValidationFailed) as failed:
            run(D1, "r4", broken=True)
        out["r4_error"] = failed.value
        out["d1_after_r4"], out["versions_r4"] = snapshot(settings, D1), versions(settings)
        out["manifest"] = read_table(settings.warehouse_uri, MANIFEST_TABLE, settings.s3).sort(
            "run_id", "finished_at", nulls_last=False
        )
        out["tables"] = {t: read_table(settings.warehouse_uri, t, settings.s3) for t in ALL_TABLES}
        out["history"] = {t: table_history(settings.warehouse_uri, t, settings.s3) for t in AUDIT_TABLES}
        storage = open_storage(f"s3://{bucket}", settings.s3)
        out["objects"] = {o.key: storage.read_bytes(o.key) for o in storage.list()}
        client = storage.client  # type: ignore[attr-defined]
        out["content_types"] = {
            key: client.head_object(Bucket=bucket, Key=key)["ContentType"]
            for key in out["objects"]
            if key.startswith("reports/")
        }
        yield out


def test_a_good_day_publishes_every_table(scenario):
    r1 = scenario["r1"]
    assert r1.status == "succeeded" and r1.critical_passed
    assert r1.table_versions == dict.fromkeys(AUDIT_TABLES, 0)
    heights = {t: f.height for t, f in scenario["after_r1"].items()}
    assert heights == {
        "agent_scorecard": 2,
        "team_scorecard": 2,
        "queue_scorecard": 2,
        "follow_up_audit": 3,
        "escalation_audit": 2,
        "concession_audit": 2,
        "concession_flags": 2,
        "metric_observations": 4,
        "quarantine": 2,
    }
    follow_up = scenario["after_r1"]["follow_up_audit"]
    assert "customer_id" not in follow_up.columns
    assert follow_up["customer_key"].str.contains(r"^[0-9a-f]{64}$").all()
    assert set(follow_up["run_id"]) == {"r1"}
    # The policy's version on every row of a table computed with it (the manifest row has it too);
    # the quarantine depends on the contract only.
    for table in AUDIT_TABLES:
        frame = scenario["after_r1"][table]
        if table == "quarantine":
            assert "policy_version" not in frame.columns
        else:
            assert frame["policy_version"].to_list() == ["2026.11-1"] * frame.height, table


def test_a_rerun_leaves_identical_contents_and_one_more_version(scenario):
    for table in AUDIT_TABLES:
        before = scenario["after_r1"][table].drop("run_id")
        after = scenario["after_r2"][table].drop("run_id")
        assert_frame_equal(after, before)
        assert scenario["versions_r2"][table] == scenario["versions_r1"][table] + 1
    assert set(scenario["after_r2"]["agent_scorecard"]["run_id"]) == {"r2"}


def test_two_days_do_not_touch_each_other(scenario):
    for table in AUDIT_TABLES:
        assert_frame_equal(scenario["d1_after_r3"][table], scenario["after_r2"][table])
        d2 = scenario["tables"][table].filter(pl.col("audit_date") == D2)
        assert d2.height == scenario["after_r1"][table].height
        assert set(d2["run_id"]) == {"r3"}


def test_a_failed_gate_publishes_no_table(scenario):
    message = str(scenario["r4_error"])
    assert "follow_up_audit.status: expect_column_values_to_be_in_set" in message
    assert "'contact_id': 'C1'" in message
    for table in AUDIT_TABLES:
        assert scenario["versions_r4"][table] == scenario["versions_r3"][table]
        assert_frame_equal(scenario["d1_after_r4"][table], scenario["after_r2"][table])


def test_every_run_writes_its_manifest_row(scenario):
    intents = scenario["manifest"].filter(pl.col("status") == "publishing")
    manifest = scenario["manifest"].filter(pl.col("status") != "publishing")
    assert manifest.select("run_id", "audit_date", "status").rows() == [
        ("r1", D1, "succeeded"),
        ("r2", D1, "succeeded"),
        ("r3", D2, "succeeded"),
        ("r4", D1, "failed"),
    ]
    # Each published run wrote its intent before its tables, with the attempt of its outcome;
    # the run that failed the gate touched no table and wrote no intent.
    assert intents.select("run_id", "attempt").rows() == manifest.head(3).select("run_id", "attempt").rows()
    assert manifest["attempt"].n_unique() == 4 and manifest["attempt"].is_not_null().all()
    assert intents["tables"].to_list() == [[], [], []] and intents["finished_at"].is_null().all()
    assert scenario["versions_r4"][MANIFEST_TABLE] == 6  # append-only: 3 intents, 4 outcomes
    r1, r4 = manifest.row(0, named=True), manifest.row(3, named=True)
    assert (r1["rows_read"], r1["rows_accepted"], r1["rows_quarantined"], r1["rows_duplicate"]) == (
        9,
        6,
        1,
        2,
    )
    assert [(i["object_key"], i["etag"], i["size_bytes"]) for i in r1["inputs"]] == [
        ("calls/export_date=2026-11-20/b.csv.gz", "e2", 99),
        ("tickets/export_date=2026-11-20/a.csv", "e1", 512),
    ]
    assert {t["table"]: t["version"] for t in r1["tables"]} == dict.fromkeys(AUDIT_TABLES, 0)
    assert r1["is_critical_passed"] and r1["failure_reason"] is None and r1["policy_version"] == "2026.11-1"
    assert r1["config_hash"] and r1["code_version"].startswith("0.1.0")
    assert r4["tables"] == [] and r4["is_critical_passed"] is False
    assert "expect_column_values_to_be_in_set" in r4["failure_reason"]
    assert r4["failed_expectations"] == [
        "follow_up_audit.status: expect_column_values_to_be_in_set (1 rows) e.g. "
        "[{'contact_type': 'call', 'contact_id': 'C1'}]"
    ]
    suites = {v["suite"]: v["critical_passed"] for v in r4["validation"]}
    assert (
        suites["follow_up_audit"] is False
        and suites["tickets"] is True
        and len(suites) == 3 + len(AUDIT_TABLES) + 1
    )  # inputs, tables, manifest


def test_history_names_the_run_of_every_version(scenario):
    history = scenario["history"]["follow_up_audit"]
    assert history.select("version", "run_id", "audit_date", "row_count").rows() == [
        (0, "r1", "2026-11-20", 3),
        (1, "r2", "2026-11-20", 3),
        (2, "r3", "2026-11-21", 3),
    ]


def test_data_docs_are_published_for_every_run_with_content_types(scenario):
    objects, types = scenario["objects"], scenario["content_types"]
    for run_id, day in (("r1", D1), ("r2", D1), ("r3", D2), ("r4", D1)):
        prefix = f"reports/data_docs/audit_date={day}/run_id={run_id}"
        assert types[f"{prefix}/index.html"] == "text/html; charset=utf-8"
        summary = json.loads(objects[f"{prefix}/summary.json"])
        assert summary["critical_passed"] is (run_id != "r4")
    assert scenario["r4_error"].report.critical_passed is False
    pages = [k for k in types if k.startswith("reports/data_docs/") and k.endswith(".html")]
    assert all(types[k] == "text/html; charset=utf-8" for k in pages)
    assert not [k for k in types if k.endswith((".css", ".js", ".png", ".otf"))]  # no GX site assets
    index = objects["reports/data_docs/index.html"].decode()
    rows = re.findall(r'<tr [^>]*data-run="([^"]*)" data-outcome="([^"]*)"', index)
    assert rows[:2] == [("r3", "passed"), ("r4", "failed (critical)")]  # D2 first, then D1 newest first
    assert len(rows) == 4


def test_published_data_docs_load_nothing_remote_and_links_resolve(scenario):
    """Every page a real run published: no http(s) asset (nor any http(s) URL), and every link
    from the runs index and the runs' pages names a published object."""
    objects = scenario["objects"]
    pages = {
        k: v.decode()
        for k, v in objects.items()
        if k.startswith("reports/data_docs/") and k.endswith(".html")
    }
    assert len(pages) > 4 * 8  # each run: an index and a page per validation
    for key, html in pages.items():
        assert remote_assets(html) == [] and "https://" not in html and "http://" not in html, key
        for link in hyperlinks(html):
            assert posixpath.normpath(posixpath.join(posixpath.dirname(key), link)) in objects, (key, link)
    r4 = [v for k, v in pages.items() if k.endswith("run_id=r4/validations/follow_up_audit.html")]
    assert r4 and 'id="outcome" data-outcome="failed (critical)"' in r4[0]


def test_no_personal_value_is_published_anywhere(scenario):
    """Every published table, every GX result and Data Docs page, every Delta log entry."""
    secrets = [*s.CUSTOMERS, *s.FREE_TEXT, "We are on it"]
    texts = [json.dumps(f.to_dicts(), default=str) for f in scenario["tables"].values()]
    texts += [
        data.decode("utf-8", errors="ignore")
        for key, data in scenario["objects"].items()
        if key.endswith((".html", ".json", ".js", ".css")) or "/_delta_log/" in key
    ]
    assert len(texts) > 30
    leaks = [secret for secret in secrets for text in texts if secret in text]
    assert leaks == []
    # The scan can fail: the inputs did carry these values.
    assert s.CUSTOMERS[0] in json.dumps(s.tickets().to_dicts(), default=str)
