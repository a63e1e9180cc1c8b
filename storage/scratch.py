"""A run's local scratch folders (Data Docs being built before they are uploaded).

Private to the running user (mode 0700, as `mkdtemp` makes them), removed when the run leaves
them, on success and on failure, and, for a run that was killed, at the next run's start: a
folder is named after its process, and one whose process is gone is swept. They never hold
raw rows: Data Docs and results are built from redacted frames (expectations/gate.py), and
the canonical rows live in the store, not in scratch files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "audit-scratch-"


@contextlib.contextmanager
def scratch_dir(work_dir: str | None = None) -> Iterator[Path]:
    """A new private folder under `work_dir` (the system's temporary folder by default),
    removed on exit; stale folders of dead runs there are swept first."""
    root = Path(work_dir) if work_dir else Path(tempfile.gettempdir())
    root.mkdir(parents=True, exist_ok=True)
    sweep(root)
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep(root: Path) -> list[Path]:
    """Remove this user's scratch folders whose process is no longer running."""
    removed = []
    for path in root.glob(f"{PREFIX}*"):
        pid = path.name.removeprefix(PREFIX).split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)) or path.stat().st_uid != os.getuid():
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
