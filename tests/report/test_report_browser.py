"""The report in a real browser: headless Chromium renders it, with no network request.

Two independent checks of "no network": the page's Content-Security-Policy
(`default-src 'none'`) would block and log any fetch, and Chromium's net log lists
every request the page starts. The report is also checked with its CSP removed, so
the policy cannot hide a page that tries to fetch; a canary page proves the net-log
check sees page requests at all. A screenshot goes to .artifacts/report/.

Every page of the report folder (day, week, month, rolling 28 days, an agent) is also opened
with the network blocked: the attention list comes first, nothing is fetched, and each page
is shot at 1400 and 800 px wide into .artifacts/report/.

The Data Docs pages of a real validation run are loaded the same way, with the network
blocked outright (a dead proxy, no name resolution), and must render whole.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from offline_pages import remote_assets
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
NO_NETWORK = ("--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND")
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


def load(page: Path, tmp_path: Path, *extra: str) -> tuple[str, str, list[str]]:
    """The page's DOM after scripts ran, Chromium's log, and the page's network requests."""
    net_log = tmp_path / f"{page.stem}-net.json"
    done = chromium(page, tmp_path, f"--log-net-log={net_log}", "--dump-dom", *extra)
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


@pytest.fixture(scope="module")
def data_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run's Data Docs: tickets fail a critical and a warning expectation."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "expectations"))
    import polars as pl
    import sample_frames as s

    from expectations._suite import SuiteParams
    from expectations.gate import run_validation

    tickets = s.tickets().with_columns(
        status=pl.when(pl.col("ticket_id") == "T2").then(pl.lit("x")).otherwise("status")
    )
    docs = tmp_path_factory.mktemp("data_docs")
    params = SuiteParams(typical_rows={"tickets": 100, "ticket_events": 100})
    frames = {"tickets": tickets, "ticket_events": s.ticket_events()}
    run_validation(frames, run_id=s.RUN, audit_date=s.DAY, docs_dir=docs, params=params)
    return docs


@pytest.mark.parametrize("page", ["index.html", "validations/tickets.html"])
def test_data_docs_render_with_the_network_blocked(data_docs: Path, page: str, tmp_path: Path) -> None:
    dom, log, requests = load(data_docs / page, tmp_path, *NO_NETWORK)
    parsed = parse_page(dom)
    assert requests == []
    assert "Content Security Policy" not in log and "Uncaught" not in log
    if page == "index.html":
        outcomes = {
            e.attrs["data-suite"]: e.attrs["data-outcome"]
            for e in parsed.find("tr")
            if "data-suite" in e.attrs
        }
        assert outcomes == {"tickets": "failed (critical)", "ticket_events": "passed with warnings"}
    else:
        severities = [e.attrs["data-severity"] for e in parsed.find("tr") if "data-severity" in e.attrs]
        assert len(severities) == 16 and severities[:2] == ["critical", "warning"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"data_docs_{Path(page).stem}.png"
    chromium(data_docs / page, tmp_path, *NO_NETWORK, f"--screenshot={shot}", "--window-size=1300,900")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- report v2: every page of the folder ------------------------------------------------------

FOLDER_PAGES = ("index.html", "week.html", "month.html", "rolling.html", "agents/a2.html")
WIDTHS = (1400, 800)


@pytest.fixture(scope="module")
def report_folder(v2_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The day's report folder as published: index, period pages and agent pages."""
    from report.build import build_report_pages

    folder = tmp_path_factory.mktemp("audit_report")
    for name, html in build_report_pages(str(v2_warehouse), D, data_docs_url=DOCS).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(html, encoding="utf-8")
    return folder


@pytest.mark.parametrize("name", FOLDER_PAGES)
def test_every_page_opens_offline_attention_first(report_folder: Path, name: str, tmp_path: Path) -> None:
    page = report_folder / name
    assert remote_assets(page.read_text(encoding="utf-8")) == []
    dom, log, requests = load(page, tmp_path, *NO_NETWORK)
    parsed = parse_page(dom)
    sections = [e.attrs.get("id") for e in parsed.find("section")]
    assert sections[0] == "attention"
    assert parsed.find("table", id="attention-table")
    assert [e.text for e in parsed.find("a") if e.inside("nav", id="pages")] == [
        "Day",
        "Week",
        "Month",
        "Rolling 28 days",
    ]
    assert requests == []
    assert "Content Security Policy" not in log and "Uncaught" not in log
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        shot = (
            ARTIFACTS
            / f"audit_report_{D.isoformat()}_{name.replace('/', '_').removesuffix('.html')}_{width}.png"
        )
        shot.unlink(missing_ok=True)
        chromium(
            page,
            tmp_path,
            *NO_NETWORK,
            f"--screenshot={shot}",
            f"--window-size={width},2400",
            "--hide-scrollbars",
        )
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (width, 2400)


def test_the_day_page_draws_a_funnel_per_rate(report_folder: Path, tmp_path: Path) -> None:
    dom, _, requests = load(report_folder / "index.html", tmp_path, *NO_NETWORK)
    funnels = [e for e in parse_page(dom).find("div") if "funnel" in e.attrs.get("class", "").split()]
    assert [f.attrs["data-metric"] for f in funnels] == ["follow_up"]
    assert requests == []
