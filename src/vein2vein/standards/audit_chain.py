"""The audit trail's hash chain: canonical bytes of an event and the SHA-256 link.

Pure Python so that an exported trail can be verified offline with this module alone.
Each event's hash covers its own canonical content plus the previous event's hash; the
sequence number is an index, not content, so order is carried by the links themselves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS_HASH = "0" * 64

HASHED_FIELDS: tuple[str, ...] = (
    "occurred_at",
    "actor_id",
    "actor_username",
    "action",
    "record_type",
    "record_id",
    "changes",
    "reason",
    "prev_hash",
)


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8; the same bytes on every database."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(content: Mapping[str, Any]) -> str:
    """SHA-256 over the canonical form of the hashed fields of one event."""
    missing = [f for f in HASHED_FIELDS if f not in content]
    if missing:
        raise KeyError(f"event content lacks {', '.join(missing)}")
    return hashlib.sha256(canonical_json({f: content[f] for f in HASHED_FIELDS})).hexdigest()


def content_hash(content: Mapping[str, Any]) -> str:
    """SHA-256 of any JSON-able mapping, e.g. the content a signature is bound to."""
    return hashlib.sha256(canonical_json(dict(content))).hexdigest()
