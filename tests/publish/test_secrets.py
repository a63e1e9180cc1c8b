"""Key loading: environment first, then the quickstart file; refuse without a key."""

from __future__ import annotations

import stat

import pytest

from warehouse.secrets import PSEUDONYM_KEY_ENV, MissingPseudonymKey, ensure_local_key, load_pseudonym_key


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch):
    monkeypatch.delenv(PSEUDONYM_KEY_ENV, raising=False)


def test_environment_key_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "env-key-0123456789abcdef")
    key_file = tmp_path / "key"
    key_file.write_text("file-key-0123456789abcdef")
    assert load_pseudonym_key(key_file, use_prefect_block=False) == b"env-key-0123456789abcdef"


def test_missing_key_refuses_with_instructions(tmp_path):
    with pytest.raises(MissingPseudonymKey, match=PSEUDONYM_KEY_ENV) as info:
        load_pseudonym_key(tmp_path / "absent", use_prefect_block=False)
    assert "support-audit-pseudonym-key" in str(info.value)


def test_short_environment_key_is_refused(monkeypatch):
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "short")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        load_pseudonym_key(use_prefect_block=False)


def test_local_key_is_private_and_stable(tmp_path):
    path = tmp_path / ".quickstart" / ".pseudonym-key"
    first = ensure_local_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 64
    assert ensure_local_key(path) == first  # re-runs keep their pseudonyms
    assert load_pseudonym_key(path, use_prefect_block=False) == first


def test_quickstart_folder_is_git_ignored():
    from pathlib import Path

    ignored = (Path(__file__).parents[2] / ".gitignore").read_text().split()
    assert ".quickstart/" in ignored
