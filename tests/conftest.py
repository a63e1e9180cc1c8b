"""Session-wide fixtures: the local S3 endpoint (a moto server process over HTTP), the Prefect
harness, and the Hypothesis profile."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import settings as hypothesis_settings

from configs.settings import S3Settings
from devtools.s3_endpoint import DUMMY_CREDENTIALS, create_bucket, endpoint_settings, local_s3_endpoint
from storage import S3Storage

# Property tests check invariants, not speed: no per-example deadline (a loaded CI box would
# otherwise fail them at random). Speed is measured by bench/, not by tests.
hypothesis_settings.register_profile("support-audit", deadline=None)
hypothesis_settings.load_profile("support-audit")


@dataclass(frozen=True)
class S3Bucket:
    """A fresh bucket on the local endpoint."""

    name: str
    endpoint_url: str
    settings: S3Settings

    def uri(self, prefix: str = "") -> str:
        return f"s3://{self.name}/{prefix}".rstrip("/")

    def storage(self, prefix: str = "") -> S3Storage:
        return S3Storage(self.uri(prefix), self.settings)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto server started once per test session (per xdist worker)."""
    with local_s3_endpoint() as url:
        yield url


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy client credentials for this test only; no profile or real key is consulted."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def s3_bucket(s3_endpoint: str, s3_credentials: None) -> S3Bucket:
    """A new, empty bucket for one test."""
    name = f"test-{uuid.uuid4().hex[:20]}"
    create_bucket(s3_endpoint, name)
    return S3Bucket(name=name, endpoint_url=s3_endpoint, settings=endpoint_settings(s3_endpoint))


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A throwaway Prefect API (temporary SQLite) for flow tests, started once per session.

    Not autouse: only tests that run flows request it, so unit tests never pay for the server
    start. Flow tests are grouped by the session fixture they build (xdist groups `prefect`,
    `prefect-quickstart` for `quickstart_run`, `prefect-published` for `published_run`), so each
    fixture is built once and the groups run on both workers at once.
    """
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
