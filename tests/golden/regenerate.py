"""Rewrite the golden answers: `uv run python tests/golden/regenerate.py`.

Generates the default sample (seed 7, end date 2026-11-22) into a temporary folder, runs the real
ingest and audit exactly as the golden tests do (tests/golden/golden_pipeline.py), and writes
tests/golden/answers/golden_answers.json.

Run it only on purpose: a changed answer means an audit result changed. The commit that changes
the answers must say why in its message (which transform, generator or policy change moved which
numbers), so that a reviewer can tell a fix from a regression.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from golden_pipeline import ANSWERS, answers, dump_answers, golden_run


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="golden-") as folder:
        document = answers(golden_run(Path(folder)))
    text = dump_answers(document)
    old = ANSWERS.read_text() if ANSWERS.exists() else None
    ANSWERS.parent.mkdir(parents=True, exist_ok=True)
    ANSWERS.write_text(text)
    state = "unchanged" if old == text else "rewritten"
    print(f"{ANSWERS} {state} ({len(document['days'])} audit days); explain any change in the commit message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
