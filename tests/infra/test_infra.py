"""What can be checked here of the deployment files: they parse, lint, and grant least privilege."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "aws" / "support-audit.yaml"

ACCOUNT = "111122223333"
PARAMS = {"Prefix": "support-audit", "LandingPrefix": "exports", "QuarantinePrefix": "_quarantine"}
BUCKET_ARN = {
    "LandingBucket": f"arn:aws:s3:::support-audit-landing-{ACCOUNT}",
    "WarehouseBucket": f"arn:aws:s3:::support-audit-warehouse-{ACCOUNT}",
    "ReportsBucket": f"arn:aws:s3:::support-audit-reports-{ACCOUNT}",
}
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0000"


@pytest.fixture(scope="module")
def template() -> dict:
    from cfnlint.decode import decode

    data, problems = decode(str(TEMPLATE))
    assert not problems
    return data


def _resolve(value: object) -> object:
    """Resolve the few intrinsics the policy uses, with example parameter values."""
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            name, _attr = value["Fn::GetAtt"]
            return KEY_ARN if name == "DataKey" else BUCKET_ARN[name]
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            text = re.sub(r"\$\{(\w+)\.Arn\}", lambda m: BUCKET_ARN[m.group(1)], text)
            return re.sub(r"\$\{(\w+)\}", lambda m: PARAMS[m.group(1)], text)
        return {k: _resolve(v) for k, v in value.items()}
    return value


def _statements(template: dict) -> list[dict]:
    doc = template["Resources"]["PipelinePolicy"]["Properties"]["PolicyDocument"]
    return [_resolve(dict(s)) for s in doc["Statement"]]


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def allowed(statements: list[dict], action: str, resource: str, prefix: str | None = None) -> bool:
    """A tiny IAM evaluator: explicit allow by action and resource glob, with s3:prefix conditions."""
    for s in statements:
        if s["Effect"] != "Allow":
            continue
        if not any(fnmatch.fnmatchcase(action, a) for a in _as_list(s["Action"])):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in _as_list(s["Resource"])):
            continue
        cond = s.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
        if cond and not (prefix and any(fnmatch.fnmatchcase(prefix, c) for c in _as_list(cond))):
            continue
        return True
    return False


def test_cloudformation_template_lints_clean():
    from cfnlint.api import lint_all

    # Errors and warnings fail, as the cfn-lint CLI reports them; informational hints do not.
    matches = [m for m in lint_all(TEMPLATE.read_text()) if m.rule.severity != "informational"]
    assert [str(m) for m in matches] == []


def test_every_bucket_is_encrypted_versioned_private_and_tls_only(template):
    resources = template["Resources"]
    buckets = [n for n, r in resources.items() if r["Type"] == "AWS::S3::Bucket" and n != "AccessLogsBucket"]
    assert sorted(buckets) == sorted(BUCKET_ARN)  # the data buckets; the log bucket is below
    for name in buckets:
        props = resources[name]["Properties"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert props["VersioningConfiguration"]["Status"] == "Enabled"
        assert all(props["PublicAccessBlockConfiguration"].values())
        rules = props["LifecycleConfiguration"]["Rules"]
        assert any("AbortIncompleteMultipartUpload" in r for r in rules)
        policies = [
            r["Properties"]["PolicyDocument"]["Statement"]
            for r in resources.values()
            if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": name}
        ]
        assert len(policies) == 1
        deny = policies[0][0]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_pipeline_policy_reads_landing_and_writes_only_quarantine(template):
    st = _statements(template)
    landing = BUCKET_ARN["LandingBucket"]
    assert allowed(st, "s3:ListBucket", landing, prefix="exports/tickets/")
    assert not allowed(st, "s3:ListBucket", landing, prefix="other/")
    assert allowed(st, "s3:GetObject", f"{landing}/exports/tickets/export_date=2026-11-01/a.csv")
    assert not allowed(st, "s3:GetObject", f"{landing}/secrets/a.csv")
    assert allowed(st, "s3:PutObject", f"{landing}/exports/_quarantine/tickets/x.jsonl")
    assert not allowed(st, "s3:PutObject", f"{landing}/exports/tickets/export_date=2026-11-01/a.csv")
    assert not allowed(st, "s3:DeleteObject", f"{landing}/exports/tickets/a.csv")


def test_pipeline_policy_writes_warehouse_and_reports_but_never_deletes(template):
    st = _statements(template)
    for bucket in ("WarehouseBucket", "ReportsBucket"):
        arn = BUCKET_ARN[bucket]
        assert allowed(st, "s3:PutObject", f"{arn}/audit/agent_scorecard/_delta_log/00000.json")
        assert allowed(st, "s3:GetObject", f"{arn}/audit/x")
        assert allowed(st, "s3:ListBucket", arn)
        assert not allowed(st, "s3:DeleteObject", f"{arn}/audit/x")
        assert not allowed(st, "s3:PutBucketPolicy", arn)
    assert allowed(st, "kms:Decrypt", KEY_ARN)
    assert allowed(st, "kms:GenerateDataKey", KEY_ARN)
    assert not allowed(st, "kms:ScheduleKeyDeletion", KEY_ARN)


def test_pipeline_policy_has_no_wildcards(template):
    for s in _statements(template):
        for action in _as_list(s["Action"]):
            assert "*" not in action, s
        for resource in _as_list(s["Resource"]):
            assert resource != "*", s


def test_compose_file_wires_server_postgres_worker_and_store():
    compose = yaml.safe_load((ROOT / "infra" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "prefect-server", "worker", "object-store"} <= set(services)
    server_env = services["prefect-server"]["environment"]
    assert server_env["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    worker = services["worker"]
    assert worker["build"]["dockerfile"] == "infra/Dockerfile"
    # The Dask cluster a backfill fans out to runs the same image, with the same settings.
    scheduler, dask_worker = services["dask-scheduler"], services["dask-worker"]
    assert scheduler["image"] == dask_worker["image"] == worker["image"]
    assert "8786" in scheduler["command"]
    assert dask_worker["command"][:2] == ["worker", "tcp://dask-scheduler:8786"]
    assert worker["environment"]["AUDIT_BACKFILL_CLUSTER"] == "tcp://dask-scheduler:8786"
    assert dask_worker["environment"]["AUDIT_PSEUDONYM_KEY"] == worker["environment"]["AUDIT_PSEUDONYM_KEY"]
    assert worker["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert worker["environment"]["AUDIT_S3__ENDPOINT_URL"] == "http://object-store:9000"
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), "ports are published on loopback only"


def test_every_data_bucket_logs_its_access_to_the_log_bucket(template):
    resources = template["Resources"]
    for name, prefix in (
        ("LandingBucket", "landing/"),
        ("WarehouseBucket", "warehouse/"),
        ("ReportsBucket", "reports/"),
    ):
        logging = resources[name]["Properties"]["LoggingConfiguration"]
        assert logging["LogFilePrefix"] == prefix
        assert logging["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}
    deny, delivery = resources["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert (
        delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
        and delivery["Action"] == "s3:PutObject"
    )
    encryption = resources["AccessLogsBucket"]["Properties"]["BucketEncryption"]
    assert encryption["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }


def test_dockerfile_uses_the_lock_and_a_non_root_user():
    text = (ROOT / "infra" / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in text
    assert "HEALTHCHECK" in text and "/health" in text
    user_lines = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert user_lines and user_lines[-1] not in ("root", "0")


def test_the_image_holds_every_package_of_the_wheel():
    """The worker image copies the packages one by one (a cached dependency layer first): a
    package the wheel ships but the image lacks breaks every flow run in it (`adapters` was
    missing: ingestion imports it)."""
    import tomllib

    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]
    copied = re.findall(r"^COPY (\w+) \./(\w+)$", (ROOT / "infra" / "Dockerfile").read_text(), re.MULTILINE)
    assert {source for source, target in copied if source == target} >= set(wheel["wheel"]["packages"])


def test_prefect_yaml_declares_both_deployments():
    from prefect.cli.deploy._models import PrefectYamlModel

    raw = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    model = PrefectYamlModel.model_validate(raw)
    by_name = {d.name: d for d in model.deployments}
    assert set(by_name) == {"support-audit-daily", "support-audit-backfill"}
    daily, backfill = by_name["support-audit-daily"], by_name["support-audit-backfill"]
    assert daily.entrypoint == "flows/daily.py:daily_audit"
    assert backfill.entrypoint == "flows/daily.py:backfill"
    assert [s.cron for s in daily.schedules or []] == ["30 6 * * *"]
    assert not backfill.schedules
    for d in (daily, backfill):
        assert d.enforce_parameter_schema is True
        assert d.concurrency_limit.limit == 1
        assert d.work_pool.name == "support-audit-process"
