"""qc API at /api/v1/qc; thin: parse, call a service or selector, serialize."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["qc"])
