"""The wheel ships the pipeline and nothing of the development kit, and runs without dev dependencies.

Builds the wheel with `uv build`, installs it into a fresh virtual environment with only the
locked runtime dependencies (`uv export --no-dev`), and runs the installed `audit --help`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {
    "catalogue",
    "configs",
    "transforms",
    "expectations",
    "storage",
    "ingestion",
    "adapters",
    "warehouse",
    "report",
    "flows",
}

pytestmark = pytest.mark.integration


def _uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(found).exists():
        pytest.skip("uv is not installed (make venv installs it)")
    return found


def _run(*args: str, cwd: Path = ROOT) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(_uv(), "build", "--wheel", "--quiet", "--out-dir", str(out))
    (built,) = out.glob("support_audit-*.whl")
    return built


def test_wheel_ships_the_pipeline_without_the_development_kit(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    packages = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packages == SHIPPED
    assert not [n for n in names if "sample_data" in n or "s3_endpoint" in n or "quickstart" in n]
    assert "configs/policy.toml" in names  # the default policy travels with the code
    # Page templates too: the HTML report and the Data Docs pages render from them.
    assert {"report/templates/report.html.j2", "expectations/templates/data_docs/run.html.j2"} <= set(names)


def test_installed_wheel_runs_without_dev_dependencies(wheel: Path, tmp_path: Path) -> None:
    uv = _uv()
    requirements = tmp_path / "requirements.txt"
    _run(
        uv,
        "export",
        "--frozen",
        "--no-dev",
        "--no-emit-project",
        "--no-hashes",
        "-q",
        "-o",
        str(requirements),
    )
    env = tmp_path / "venv"
    python = str(env / "bin" / "python")
    _run(uv, "venv", "--quiet", "--python", "3.11", str(env))
    _run(uv, "pip", "install", "--quiet", "--python", python, "-r", str(requirements))
    _run(uv, "pip", "install", "--quiet", "--no-deps", "--python", python, str(wheel))

    help_text = _run(str(env / "bin" / "audit"), "--help", cwd=tmp_path)
    for command in ("run", "backfill", "serve", "report"):
        assert f" {command} " in help_text
    assert " quickstart " not in help_text and " generate " not in help_text  # development commands
    probe = "import importlib.util as u; print(u.find_spec('moto'), u.find_spec('devtools'))"
    assert _run(python, "-c", probe, cwd=tmp_path).strip() == "None None"
    policy = "from configs.policy import load_policy; print(load_policy().version)"
    assert _run(python, "-c", policy, cwd=tmp_path).strip()  # the packaged default policy loads
