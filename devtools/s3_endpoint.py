"""A local S3-compatible endpoint for tests and the S3 quickstart: moto's server CLI in a
child process on 127.0.0.1.

It is a separate process speaking HTTP, so the code under test goes through boto3's real
network path (signing, retries, pagination) exactly as against AWS or MinIO; nothing is
patched in-process. The server accepts any credentials; clients still need some, see
`DUMMY_CREDENTIALS`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from configs.settings import S3Settings

# Client-side credentials the moto server accepts; never real ones.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class EndpointError(RuntimeError):
    """The local endpoint did not start or answer."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def moto_server_command(host: str, port: int) -> list[str]:
    """The venv's `moto_server` script, or `python -m moto.server` beside this interpreter."""
    script = Path(sys.executable).with_name("moto_server")
    found = str(script) if script.exists() else shutil.which("moto_server")
    base = [found] if found else [sys.executable, "-m", "moto.server"]
    return [*base, "-H", host, "-p", str(port)]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=1) as response:
            return bool(response.status < 500)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes], timeout_seconds: float = 10) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_seconds)


@contextmanager
def local_s3_endpoint(host: str = "127.0.0.1", startup_timeout_seconds: float = 30) -> Iterator[str]:
    """Start a moto server on a free port, wait until it answers, yield its URL, stop it."""
    port = free_port(host)
    url = f"http://{host}:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # the server needs none
    # The server logs every request: a file, not a pipe nobody drains, takes its output.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(moto_server_command(host, port), stdout=log, stderr=log, env=env)
        try:
            _wait_until_answering(process, url, log, startup_timeout_seconds)
            yield url
        finally:
            _stop(process)


def _wait_until_answering(
    process: subprocess.Popen[bytes], url: str, log: IO[bytes], timeout_seconds: float
) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not _answers(url):
        if process.poll() is not None:
            log.seek(0)
            tail = log.read()[-2000:].decode(errors="replace")
            raise EndpointError(f"moto server exited with code {process.returncode}: {tail}")
        if time.monotonic() > deadline:
            raise EndpointError(f"moto server did not answer on {url} within {timeout_seconds}s")
        time.sleep(0.1)


def endpoint_settings(endpoint_url: str) -> S3Settings:
    """S3 settings for the local endpoint: few retries, short timeouts, so failures show fast."""
    return S3Settings(
        endpoint_url=endpoint_url, max_attempts=2, connect_timeout_seconds=5, read_timeout_seconds=30
    )


def create_bucket(endpoint_url: str, bucket: str) -> None:
    """Create a bucket on the endpoint (client credentials must be set, e.g. DUMMY_CREDENTIALS)."""
    from storage import s3_client

    s3_client(endpoint_settings(endpoint_url)).create_bucket(Bucket=bucket)
