"""A small HTTP proxy on 127.0.0.1 in front of the local S3 endpoint that loses responses.

Each request is forwarded to the endpoint and its response read in full (so the store has
applied it); for a request the `drop` rule picks, the proxy then closes the client's
connection instead of answering: the client sees a lost response for a write that happened,
as with a network fault after the server committed. Only for fault tests, only on 127.0.0.1.

It runs in a process of its own (`python drop_proxy.py <endpoint> <log>`, or
`dropping_proxy`): some delta-rs calls hold Python's GIL while they wait for the network, so
a proxy thread in the test's own process would never get to answer them.
"""

from __future__ import annotations

import re
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

COMMIT = re.compile(r"^PUT \S*/_delta_log/\d{20}\.json[ ?]")


class _Handler(socketserver.StreamRequestHandler):
    server: _Proxy

    def handle(self) -> None:
        """One request per connection (the response says `Connection: close`): no framing to
        get wrong whatever the upstream's responses look like."""
        request = self._read_request()
        if request is None:
            return
        response = self._forward(request)
        if self.server.should_drop(request.split(b"\r\n", 1)[0].decode("latin-1")):
            return  # applied upstream; the client never hears back
        self.wfile.write(response)
        self.wfile.flush()

    def _read_request(self) -> bytes | None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.rfile.readline(65536)
            if not line:
                return None
            head += line
        if re.search(rb"(?im)^expect:\s*100-continue", head):  # botocore's PUTs wait for this
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
            head = re.sub(rb"(?im)^expect:[^\r\n]*\r\n", b"", head)
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        body = self.rfile.read(int(length.group(1))) if length else b""
        return head + body

    def _forward(self, request: bytes) -> bytes:
        head, _, body = request.partition(b"\r\n\r\n")
        head = re.sub(rb"(?im)^connection:[^\r\n]*\r\n", b"", head + b"\r\n") + b"Connection: close\r\n"
        with socket.create_connection(self.server.upstream, timeout=30) as upstream:
            upstream.sendall(head + b"\r\n" + body)
            chunks = []
            while chunk := upstream.recv(65536):
                chunks.append(chunk)
        status, _, rest = b"".join(chunks).partition(b"\r\n")
        rest = re.sub(rb"(?im)^connection:[^\r\n]*\r\n", b"", rest)
        return status + b"\r\nConnection: close\r\n" + rest


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: tuple[str, int], drop: Callable[[str], bool]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream, self._drop, self._lock = upstream, drop, threading.Lock()
        self.log: Path | None = None

    def should_drop(self, request_line: str) -> bool:
        with self._lock:
            if not self._drop(request_line):
                return False
            if self.log is not None:
                with self.log.open("a") as out:
                    out.write(request_line + "\n")
            return True


def first_try_of_every_commit() -> Callable[[str], bool]:
    """Lose the response of every Delta commit's first try (never of its retry)."""
    seen: set[str] = set()

    def drop(request_line: str) -> bool:
        if not COMMIT.match(request_line):
            return False
        key = request_line.split(" ")[1].split("?")[0]
        if key in seen:
            return False
        seen.add(key)
        return True

    return drop


@dataclass
class RunningProxy:
    url: str
    log: Path

    @property
    def dropped(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@contextmanager
def dropping_proxy(endpoint_url: str, log: Path) -> Iterator[RunningProxy]:
    """A proxy process to `endpoint_url` on 127.0.0.1 losing the response of every Delta
    commit's first try; the request lines it dropped are appended to `log`."""
    if urlsplit(endpoint_url).hostname not in ("127.0.0.1", "localhost"):
        raise ValueError("fault tests only target 127.0.0.1")
    args = [sys.executable, str(Path(__file__)), endpoint_url, str(log)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield RunningProxy(f"http://127.0.0.1:{port}", log)
    finally:
        process.kill()
        process.wait(timeout=10)


def main(endpoint_url: str, log: str) -> None:
    parts = urlsplit(endpoint_url)
    proxy = _Proxy((parts.hostname or "127.0.0.1", parts.port or 80), first_try_of_every_commit())
    proxy.log = Path(log)
    print(proxy.server_address[1], flush=True)
    proxy.serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:3])
