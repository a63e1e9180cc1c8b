"""The report in a real browser: headless Chromium renders it, with no network request.

Two independent checks of "no network": the page's Content-Security-Policy
(`default-src 'none'`) would block and log any fetch, and Chromium's net log lists
every request the page starts. The report is also checked with its CSP removed, so
the policy cannot hide a page that tries to fetch; a canary page proves the net-log
check sees page requests at all. A screenshot goes to .artifacts/report/.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from report_fixtures import D, parse_page

from report import build_report
from report.render import CSP

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "report"
DOCS = "../../data_docs/index.html"
TABLES = (
    "headline-table",
    "scorecard-table",
    "missed-follow-ups",
    "escalation-classes",
    "escalations-to-review",
    "concession-flags",
    "policy-violations",
    "trend-table",
)
BROWSER_ORIGINATED = "not an origin"  # net-log initiator of Chromium's own background requests

pytestmark = [
    pytest.mark.browser,
    pytest.mark.xdist_group("browser"),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Chromium not found at /usr/bin/chromium (install it with `make browser`)",
    ),
]


def chromium(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{page.stem}"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def page_requests(net_log: Path) -> list[str]:
    """URLs of network requests the page itself started (not Chromium's own background traffic)."""
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return sorted(
        {
            e["params"]["url"]
            for e in log["events"]
            if e["type"] == start_job
            and "url" in e.get("params", {})
            and e["params"].get("initiator") != BROWSER_ORIGINATED
            and e["params"]["url"].split(":", 1)[0] in ("http", "https", "ws", "wss", "ftp")
        }
    )


def load(page: Path, tmp_path: Path) -> tuple[str, str, list[str]]:
    """The page's DOM after scripts ran, Chromium's log, and the page's network requests."""
    net_log = tmp_path / f"{page.stem}-net.json"
    done = chromium(page, tmp_path, f"--log-net-log={net_log}", "--dump-dom")
    return done.stdout, done.stderr, page_requests(net_log)


@pytest.fixture(scope="module")
def report_html(shared_warehouse: Path) -> str:
    return build_report(str(shared_warehouse), D, data_docs_url=DOCS)


def test_charts_and_tables_render_without_network(report_html: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(report_html, encoding="utf-8")
    dom, log, requests = load(page, tmp_path)
    parsed = parse_page(dom)
    assert len(parsed.find("svg")) == 6
    assert all(parsed.find("table", id=table) for table in TABLES)
    assert parsed.find("td", data_metric="follow_up")
    assert parsed.find("meta", http_equiv="Content-Security-Policy")[0].attrs["content"] == CSP
    assert requests == []
    assert "Content Security Policy" not in log
    assert "Uncaught" not in log
    links = [e.attrs[a] for e in parsed.elements for a in ("src", "href") if a in e.attrs]
    assert links == [DOCS]


def test_report_needs_no_network_even_without_its_csp(report_html: str, tmp_path: Path) -> None:
    page = tmp_path / "report-no-csp.html"
    without_csp = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", report_html)
    assert without_csp != report_html
    page.write_text(without_csp, encoding="utf-8")
    dom, _, requests = load(page, tmp_path)
    assert len(parse_page(dom).find("svg")) == 6
    assert requests == []


def test_the_net_log_check_sees_page_requests(tmp_path: Path) -> None:
    canary = tmp_path / "canary.html"
    canary.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/canary.png"></body></html>', encoding="utf-8"
    )
    _, _, requests = load(canary, tmp_path)
    assert requests == ["http://127.0.0.1:9/canary.png"]


def test_screenshot_is_saved_under_artifacts(report_html: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(report_html, encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"audit_report_{D.isoformat()}.png"
    shot.unlink(missing_ok=True)
    chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1400,4000", "--hide-scrollbars")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 4000)
