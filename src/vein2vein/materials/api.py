"""materials API; thin: parse, call a service or selector, serialize."""

from ninja import Router

router = Router(tags=["materials"])
