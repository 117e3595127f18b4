"""Release pages: the batches awaiting disposition, each batch's readiness checklist with its
dispositions and the disposition form (signed), the certificate of analysis, and the
notices of exceptional release for the clinical sites. Thin: selectors to read, services to
write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from vein2vein.core.actors import page_user
from vein2vein.core.errors import DomainError
from vein2vein.core.forms import run_form
from vein2vein.core.permissions import has_perm
from vein2vein.core.time import format_in_zone
from vein2vein.core.views import needs
from vein2vein.manufacturing.selectors import batches_for
from vein2vein.web.lists import list_page

from . import selectors, services
from .download import certificate_file
from .filters import AwaitingFilterSet
from .forms import DispositionForm
from .permissions import RelPerm
from .services.certificates import certificate

if TYPE_CHECKING:
    from vein2vein.manufacturing.models import Batch


def _batch(request: HttpRequest, batch_id: int) -> Batch:
    b = batches_for(page_user(request)).select_related("started_by").filter(pk=batch_id).first()
    if b is None:
        raise Http404("no such batch at your sites")
    return b


@needs(RelPerm.VIEW)
def awaiting(request: HttpRequest) -> HttpResponse:
    """Batches QA reviewed that wait for a disposition (none yet, or on quarantine hold)."""
    user = page_user(request)

    def present(rows: Any) -> list[dict[str, Any]]:
        latest = selectors.latest_decisions([b.pk for b in rows])
        return [{"batch": b, "decision": latest.get(b.pk)} for b in rows]

    return list_page(
        request,
        "release/awaiting.html",
        AwaitingFilterSet,
        selectors.awaiting_disposition(user),
        present=present,
    )


@needs(RelPerm.VIEW)
@require_http_methods(["GET", "POST"])
def batch_release(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The readiness checklist, the dispositions so far, and (for a QA approver) the
    disposition form, signed with the password."""
    b = _batch(request, batch_id)
    user = page_user(request)
    may = has_perm(user, RelPerm.DISPOSE, b.site)
    if request.method == "POST" and not may:
        return render(request, "core/forbidden.html", {"perm": RelPerm.DISPOSE}, status=403)
    current = selectors.current_disposition(b.pk)
    allowed = selectors.allowed_decisions(current)
    form = DispositionForm(request.POST or None, request.FILES or None) if may and allowed else None
    status = 200
    if form is not None:
        outcome = run_form(
            request,
            form,
            lambda d: services.dispose(
                actor=user,
                batch_id=b.pk,
                decision=d["decision"],
                reason=d["reason"],
                password=d["password"],
                exceptional=bool(d["exceptional"]),
                physician_name=d["physician_name"],
                physician_requested_at=d["physician_requested_at"],
                physician_reference=d["physician_reference"],
                physician_file=d["physician_file"],
                request=request,
            ),
        )
        if outcome.done and outcome.result is not None:
            messages.success(
                request,
                f"Batch {b.number}: {outcome.result.get_decision_display().lower()}, signed.",
            )
            return redirect("release:batch_release", batch_id=b.pk)
        status = outcome.status
    zone = b.site.time_zone
    dispositions = selectors.dispositions_of(b.pk)
    return render(
        request,
        "release/batch.html",
        {
            "batch": b,
            "readiness": selectors.readiness(b.pk),
            "dispositions": [
                {
                    "d": d,
                    "when": format_in_zone(d.decided_at, zone),
                    "signatures": selectors.signatures_of(d),
                }
                for d in dispositions
            ],
            "shippable": selectors.shippable(b.pk),
            "certificates": selectors.certificates_of(b.pk),
            "form": form,
            "may_issue": has_perm(user, RelPerm.COA, b.site),
            "released": current is not None and current.decision == "release",
        },
        status=status,
    )


@needs(RelPerm.COA)
@require_POST
def issue_certificate(request: HttpRequest, batch_id: int) -> HttpResponse:
    b = _batch(request, batch_id)
    try:
        c = services.generate_certificate(actor=page_user(request), batch_id=b.pk)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("release:batch_release", batch_id=b.pk)
    messages.success(request, f"{c} issued (SHA-256 {c.sha256}).")
    return redirect("release:batch_release", batch_id=b.pk)


@needs(RelPerm.VIEW)
def download_certificate(request: HttpRequest, batch_id: int) -> HttpResponse | FileResponse:
    """The stored PDF: the latest version, or `?version=`."""
    b = _batch(request, batch_id)
    asked = request.GET.get("version", "")
    version = int(asked) if asked.isdigit() and len(asked) < 9 else None
    try:
        return certificate_file(certificate(b.pk, version))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("release:batch_release", batch_id=b.pk)


@needs(RelPerm.NOTICE_VIEW)
def notices(request: HttpRequest) -> HttpResponse:
    """Notices of exceptional release addressed to your sites."""
    from django.core.paginator import Paginator

    page = Paginator(selectors.notices_for(page_user(request)), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "release/notices.html", {"page": page})
