"""A landing folder never lets a key reach outside it, symlinks included (LocalStorage._path
resolves each key's folder once and the file itself when it is a link)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage import LocalStorage, StorageError, safe_key


def test_a_symlink_out_of_the_root_is_refused_and_files_inside_are_read(tmp_path: Path) -> None:
    root, outside = tmp_path / "landing", tmp_path / "outside"
    (outside).mkdir()
    (outside / "secret").write_text("not yours")
    root.mkdir()
    (root / "folder-link").symlink_to(outside)
    (root / "file-link").symlink_to(outside / "secret")
    (root / "inside-link").symlink_to(root / "calls")
    storage = LocalStorage(root)
    storage.write_bytes("calls/export_date=2026-03-02/a.csv", b"call_id\n")
    for key in ("folder-link/secret", "file-link"):
        with pytest.raises(StorageError, match="escapes the storage root"):
            storage.read_bytes(key)
    assert storage.read_bytes("calls/export_date=2026-03-02/a.csv") == b"call_id\n"
    assert storage.read_bytes("inside-link/export_date=2026-03-02/a.csv") == b"call_id\n"  # stays inside
    assert [o.key for o in storage.list("calls/")] == ["calls/export_date=2026-03-02/a.csv"]


@given(st.lists(st.sampled_from(["a", "b.csv", ".", "..", "", "x y", "\\", "/"]), min_size=1, max_size=6))
def test_safe_key_normalises_like_a_posix_path_and_refuses_what_could_escape(parts: list[str]) -> None:
    """The string-only `safe_key` (it runs once per listed object) gives the key a POSIX path
    would: empty and `.` segments dropped, backslashes as separators; `..` and absolute keys
    refused."""
    key = "/".join(parts)
    normal = key.replace("\\", "/")
    segments = PurePosixPath(normal).parts
    if normal.startswith("/") or not segments or ".." in segments:
        with pytest.raises(StorageError, match="unsafe object key"):
            safe_key(key)
    else:
        assert safe_key(key) == "/".join(segments)


def test_a_prefix_that_leads_out_of_the_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "landing").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f.csv").write_text("x")
    storage = LocalStorage(tmp_path / "landing")
    with pytest.raises(StorageError, match="prefix escapes"):
        list(storage.list("../elsewhere/"))
