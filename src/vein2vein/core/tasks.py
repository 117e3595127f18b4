"""Celery tasks: thin wrappers around services and selectors."""

from __future__ import annotations

import os
import socket

from celery import shared_task

from .audit import verify_chain


@shared_task(name="core.ping")
def ping(payload: str) -> dict[str, object]:
    """Round trip through the broker; says which worker answered."""
    return {"echo": payload, "worker": f"{socket.gethostname()}:{os.getpid()}"}


@shared_task(name="core.verify_audit_chain")
def verify_audit_chain() -> dict[str, object]:
    result = verify_chain()
    return {"ok": result.ok, "count": result.count, "problem": str(result.problem or "")}


@shared_task(name="core.take_audit_checkpoint")
def take_audit_checkpoint() -> dict[str, object]:
    """The periodic signed head checkpoint (beat schedule in settings)."""
    from .checkpoints import take_checkpoint

    checkpoint = take_checkpoint(occasion="periodic")
    return {"seq": checkpoint.seq, "head_hash": checkpoint.head_hash}
