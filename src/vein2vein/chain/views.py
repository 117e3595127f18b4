"""Chain pages (placeholder until the pages land)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from vein2vein.core.views import needs

from .permissions import ChainPerm


@needs(ChainPerm.VIEW)
def order_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("chain")
