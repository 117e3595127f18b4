"""Signed head checkpoints of the audit trail (ADR 0002).

A checkpoint records the head of the chain (seq and hash) at a moment, with an HMAC made with
the seal key kept outside the database, in a table row and in a JSON-lines file outside the
database. Verify walks the chain against both: an event at a checkpoint's seq with another
hash means the chain was replaced; a chain ending before a checkpoint's seq lost its tail.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from . import sealing
from .audit import Problem, _lock_chain, append_event, jsonable
from .models import AuditCheckpoint, AuditEvent, User
from .time import now

OCCASIONS = ("periodic", "export", "manual")


def _payload(
    seq: int, head_hash: str, taken_at: dt.datetime | str, occasion: str
) -> dict[str, Any]:
    return {
        "seq": seq,
        "head_hash": head_hash,
        "taken_at": taken_at if isinstance(taken_at, str) else jsonable(taken_at),
        "occasion": occasion,
    }


def log_path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_LOG)


def take_checkpoint(*, occasion: str, actor: User | None = None) -> AuditCheckpoint:
    """Record the chain's head now; the checkpoint itself is then an audit event."""
    if occasion not in OCCASIONS:
        raise ValueError(f"occasion must be one of {', '.join(OCCASIONS)}")
    with transaction.atomic():
        _lock_chain()
        head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, head_hash = head if head else (0, "0" * 64)
        taken_at = now()
        payload = _payload(seq, head_hash, taken_at, occasion)
        checkpoint = AuditCheckpoint.objects.create(
            seq=seq,
            head_hash=head_hash,
            taken_at=taken_at,
            occasion=occasion,
            taken_by=actor.get_username() if actor is not None else "system",
            key_id=sealing.key_id(),
            mac=sealing.mac(payload),
        )
        line = json.dumps({**payload, "key_id": checkpoint.key_id, "mac": checkpoint.mac})
        append_event(
            actor=actor,
            action="audit.checkpoint",
            record=checkpoint,
            changes={
                "seq": {"old": None, "new": seq},
                "head_hash": {"old": None, "new": head_hash},
            },
            reason=f"{occasion} checkpoint of the audit trail head",
        )
        transaction.on_commit(lambda: _append_line(line))
    return checkpoint


def _append_line(line: str) -> None:
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def _from_table() -> Iterator[dict[str, Any]]:
    rows = AuditCheckpoint.objects.order_by("seq", "pk").values(
        "seq", "head_hash", "taken_at", "occasion", "key_id", "mac"
    )
    for row in rows.iterator(chunk_size=2000):
        yield {**row, "taken_at": jsonable(row["taken_at"]), "source": "table"}


def _from_file() -> Iterator[dict[str, Any]]:
    path = log_path()
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError:
                row = {"seq": -1, "bad_line": number}
            yield {**row, "source": f"{path.name} line {number}"}


def checkpoints() -> Iterator[dict[str, Any]]:
    """Checkpoints from the table and from the file, in seq order, streamed."""
    return heapq.merge(_from_table(), _from_file(), key=lambda c: int(c.get("seq", -1)))


def _mac_problem(cp: Mapping[str, Any]) -> Problem | None:
    if "bad_line" in cp:
        return Problem(0, "checkpoint", f"{cp['source']} is not a checkpoint")
    if cp.get("key_id") != sealing.key_id():
        return None  # made with another key: its MAC cannot be checked here
    expected = sealing.mac(_payload(cp["seq"], cp["head_hash"], cp["taken_at"], cp["occasion"]))
    if not sealing.matches(expected, str(cp.get("mac", ""))):
        return Problem(
            int(cp["seq"]), "checkpoint", f"the checkpoint in the {cp['source']} is forged"
        )
    return None


class CheckpointWalk:
    """Fed the chain's rows in seq order by verify; says where they part from a checkpoint."""

    def __init__(self) -> None:
        self._pending = checkpoints()
        self._next: dict[str, Any] | None = next(self._pending, None)

    def _advance(self) -> None:
        self._next = next(self._pending, None)

    def at(self, row: Mapping[str, Any]) -> Problem | None:
        while self._next is not None and int(self._next["seq"]) <= row["seq"]:
            cp = self._next
            problem = _mac_problem(cp)
            if problem is not None:
                return problem
            if int(cp["seq"]) == row["seq"] and cp["head_hash"] != row["hash"]:
                return Problem(
                    row["seq"],
                    "edited",
                    f"it is not the event the checkpoint of {cp['taken_at']} recorded at this "
                    "place: the chain was replaced from here or before",
                )
            self._advance()
        return None

    def after_head(self, head_seq: int) -> Problem | None:
        """Checkpoints beyond the end of the chain: its tail was deleted."""
        while self._next is not None:
            cp = self._next
            problem = _mac_problem(cp)
            if problem is not None:
                return problem
            if int(cp["seq"]) > head_seq:
                return Problem(
                    head_seq + 1,
                    "deleted",
                    f"the chain ends at #{head_seq}, but the checkpoint of {cp['taken_at']} "
                    f"recorded it reaching #{cp['seq']}: events #{head_seq + 1} to "
                    f"#{cp['seq']} are gone",
                )
            self._advance()
        return None
