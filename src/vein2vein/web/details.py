"""Detail pages: the record, its audit history and its signatures, in one render.

Apps' views may import this module (`.importlinter`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from vein2vein.core import selectors
from vein2vein.core.signing import manifestation, signatures_for

HISTORY = 50  # audit events a detail page shows, newest first


def record_type(record: Model) -> str:
    return f"{record._meta.app_label}.{record._meta.model_name}"


def history(record: Model, limit: int = HISTORY) -> Any:
    """The record's last `limit` audit events, newest first (one query)."""
    return selectors.audit_events(record_type=record_type(record), record_id=str(record.pk))[:limit]


def signature_panel(record: Model) -> dict[str, Any]:
    """The context of `core/_signatures.html` and the Sign… dialog for `record`."""
    return {
        "signatures": [manifestation(s, record) for s in signatures_for(record)],
        "sign_record_type": record_type(record),
        "sign_record_id": str(record.pk),
    }


def detail_page(
    request: HttpRequest,
    template: str,
    context: Mapping[str, Any],
    *,
    record: Model | None = None,
    events: bool = False,
    signatures: bool = False,
    status: int = 200,
) -> HttpResponse:
    """Render a detail page; with `record`, its audit `events` and `signatures` on request."""
    extra: dict[str, Any] = {}
    if record is not None and events:
        extra["events"] = history(record)
    if record is not None and signatures:
        extra.update(signature_panel(record))
    return render(request, template, {**context, **extra}, status=status)
