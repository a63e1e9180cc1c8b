"""A landing folder never lets a key reach outside it, symlinks included (LocalStorage._path
resolves each key's folder once and the file itself when it is a link)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import LocalStorage, StorageError


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
