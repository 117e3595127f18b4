"""The dashboard and the placeholder pages of areas not built yet."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from vein2vein.chain.dashboard import panel as chain_panel
from vein2vein.core import selectors
from vein2vein.documents.dashboard import panel as documents_panel
from vein2vein.equipment.dashboard import panel as equipment_panel
from vein2vein.manufacturing.dashboard import panel as manufacturing_panel
from vein2vein.materials.dashboard import panel as materials_panel
from vein2vein.qc.dashboard import panel as qc_panel
from vein2vein.quality.dashboard import panel as quality_panel
from vein2vein.release.dashboard import panel as release_panel
from vein2vein.training.dashboard import panel as training_panel

from .navigation import AREAS, AREAS_BY_SLUG

# Each app's "my work" panel (my training, my open actions, awaiting my signature...), in order.
DASHBOARD_PANELS = (
    training_panel,
    quality_panel,
    documents_panel,
    materials_panel,
    equipment_panel,
    chain_panel,
    manufacturing_panel,
    qc_panel,
    release_panel,
)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    recent = selectors.audit_events(actor=request.user.get_username())[:10]
    panels = [p for panel in DASHBOARD_PANELS if (p := panel(request))]
    return render(
        request,
        "web/dashboard.html",
        {
            "areas": [a for a in AREAS if a.slug != "dashboard"],
            "recent_events": recent,
            "panels": panels,
        },
    )


@login_required
def area(request: HttpRequest, slug: str) -> HttpResponse:
    found = AREAS_BY_SLUG.get(slug)
    if found is None:
        raise Http404("no such area")
    return render(request, "web/area_not_built.html", {"area": found})


def health(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers: answers without touching the audit chain."""
    return HttpResponse("ok", content_type="text/plain")
