"""devtools/s3_endpoint.py: the moto server child process starts, answers, and stops cleanly."""

from __future__ import annotations

import sys
import urllib.request

import pytest

from devtools import s3_endpoint
from devtools.s3_endpoint import EndpointError, local_s3_endpoint

pytestmark = pytest.mark.integration


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_the_endpoint_answers_on_loopback_while_open_and_is_gone_after() -> None:
    with local_s3_endpoint() as url:
        assert url.startswith("http://127.0.0.1:")
        assert answers(url)
    assert not answers(url)


def test_a_server_that_exits_at_once_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        s3_endpoint, "moto_server_command", lambda host, port: [sys.executable, "-c", "raise SystemExit(3)"]
    )
    with pytest.raises(EndpointError, match="exited with code 3"), local_s3_endpoint():
        pass
