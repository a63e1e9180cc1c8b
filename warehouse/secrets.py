"""Where the pseudonym key comes from, and the refusal to publish without one.

Order: the AUDIT_PSEUDONYM_KEY environment variable, then an explicit key file (the
quickstart's), then the Prefect Secret block `support-audit-pseudonym-key`. No key, no
publishing: a run that cannot pseudonymise customer ids must not write audit tables.
The key is never logged, never written to the manifest (only an id an HMAC derives from it,
`transforms.pseudonym.key_id`, which changes when the key is rotated), never part of settings.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from transforms.pseudonym import MIN_KEY_BYTES, PseudonymKeyError, check_key

PSEUDONYM_KEY_ENV = "AUDIT_PSEUDONYM_KEY"
SECRET_BLOCK_NAME = "support-audit-pseudonym-key"
QUICKSTART_KEY_FILE = Path(".quickstart") / ".pseudonym-key"

log = logging.getLogger(__name__)


class MissingPseudonymKey(PseudonymKeyError):
    """No pseudonym key is configured; publishing is refused."""


def _encode(value: str) -> bytes:
    return check_key(value.strip().encode("utf-8"))


def _from_prefect_block(name: str) -> bytes | None:
    try:
        from prefect.blocks.system import Secret

        block: Any = Secret.load(name)
        value = block.get()
    except Exception as exc:  # block missing or no Prefect API reachable: not configured
        log.debug("no Prefect secret block %r: %s", name, type(exc).__name__)
        return None
    return _encode(str(value))


def load_pseudonym_key(key_file: Path | str | None = None, *, use_prefect_block: bool = True) -> bytes:
    """The pseudonym key, or MissingPseudonymKey saying how to configure one."""
    value = os.environ.get(PSEUDONYM_KEY_ENV)
    if value:
        return _encode(value)
    if key_file is not None and Path(key_file).exists():
        return _encode(Path(key_file).read_text(encoding="utf-8"))
    if use_prefect_block:
        key = _from_prefect_block(SECRET_BLOCK_NAME)
        if key is not None:
            return key
    raise MissingPseudonymKey(
        "refusing to publish: no pseudonym key. Set the environment variable "
        f"{PSEUDONYM_KEY_ENV} (at least {MIN_KEY_BYTES} characters) or create the Prefect Secret "
        f"block '{SECRET_BLOCK_NAME}'; the quickstart creates a local key file instead."
    )


def ensure_local_key(path: Path | str = QUICKSTART_KEY_FILE) -> bytes:
    """Create (once) a random key file readable only by its owner, for the quickstart.

    The default lives in the git-ignored `.quickstart/` folder; an existing file is kept,
    so quickstart re-runs produce the same pseudonyms.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32))
    os.chmod(path, 0o600)
    return _encode(path.read_text(encoding="utf-8"))
