"""The audit seal key, kept outside the database, and the MACs made with it.

The hash chain alone cannot show a chain cut short or rewritten from event k with recomputed
hashes (ADR 0001): anyone who can write the table can recompute SHA-256. A keyed MAC can only
be made by who holds the key, which lives in a file outside the database (ADR 0002): each event
carries a seal (HMAC of its hash) and signed head checkpoints record how long the chain was.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from vein2vein.standards.audit_chain import canonical_json


def key_path() -> Path:
    return Path(settings.AUDIT_SEAL_KEY_FILE)


@lru_cache(maxsize=4)
def _key_at(path: str) -> bytes:
    """Read the key; create it once if missing. The key is written whole to a file of its own
    and then hard-linked into place, which fails when another process got there first: no
    process ever reads a created but still empty key file, and all of them agree on one key."""
    p = Path(path)
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        draft = p.with_name(f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(draft, p)
        finally:
            draft.unlink()
    text = p.read_text().strip()
    if len(text) < 32:
        raise RuntimeError(f"the audit seal key {p} is empty or too short")
    return text.encode("ascii")


def key() -> bytes:
    return _key_at(str(key_path()))


def key_id() -> str:
    """A fingerprint naming the key (never the key itself)."""
    return hashlib.sha256(b"vein2vein-audit-key-id:" + key()).hexdigest()[:16]


def seal(event_hash: str) -> str:
    """The seal of one audit event: HMAC-SHA256 of its hash."""
    return hmac.new(key(), b"event:" + event_hash.encode("ascii"), hashlib.sha256).hexdigest()


def mac(payload: dict[str, Any]) -> str:
    """HMAC-SHA256 over the canonical JSON of `payload` (a checkpoint)."""
    return hmac.new(key(), b"checkpoint:" + canonical_json(payload), hashlib.sha256).hexdigest()


def matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected, given)
