"""Equipment pages: the list with filters, a unit's page, one form per action, the due report
and a failed calibration's impact list. Thin: a form parses, a service decides, a refusal
lands on the form with its 4xx status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from vein2vein.core import selectors as core_selectors
from vein2vein.core.actors import page_user
from vein2vein.core.audit import record_ref
from vein2vein.core.errors import DomainError
from vein2vein.core.models import Site, User
from vein2vein.core.permissions import has_perm
from vein2vein.core.views import needs
from vein2vein.web.actions import titled_form_action
from vein2vein.web.lists import list_page

from . import forms as ef
from . import selectors, services
from .download import certificate_response
from .filters import EquipmentFilterSet
from .models import Equipment, MaintenancePlan, QualificationRecord, ServiceRecord, Usage
from .permissions import EqPerm


def _post(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _unit(tag: str) -> Equipment:
    return get_object_or_404(Equipment.objects.select_related("site"), equipment_id=tag.upper())


def _detail(unit: Equipment) -> str:
    return reverse("equipment:detail", args=[unit.equipment_id])


def _sites_where(user: User, perm: str) -> Any:
    ids = [s.pk for s in core_selectors.my_sites(user) if has_perm(user, perm, s)]
    return Site.objects.filter(pk__in=ids).order_by("code")


def _form_page(request: HttpRequest, **page: Any) -> HttpResponse:
    """GET shows the form; POST runs the service: success redirects, a refusal shows 4xx."""
    return titled_form_action(request, template="equipment/form.html", **page)


def _unit_step(
    request: HttpRequest,
    tag: str,
    form_class: type[forms.Form],
    service: Callable[..., object],
    *,
    title: str,
    intro: str | Callable[[Equipment], str] = "",
    **page: Any,
) -> HttpResponse:
    """A form page that runs `service(actor, equipment_id, **form data)` on one unit."""
    unit = _unit(tag)
    return _form_page(
        request,
        form=form_class(_post(request)),
        title=title.format(unit=unit.equipment_id),
        intro=intro(unit) if callable(intro) else intro,
        run=lambda data: service(actor=page_user(request), equipment_id=unit.equipment_id, **data),
        back=_detail(unit),
        **page,
    )


# --- list, due report ---------------------------------------------------------------------
@needs(EqPerm.VIEW)
def index(request: HttpRequest) -> HttpResponse:
    due = {r.plan.equipment_id: r for r in selectors.due_plans()}
    return list_page(
        request,
        "equipment/index.html",
        EquipmentFilterSet,
        selectors.equipment_list(),
        {"can_manage": bool(_sites_where(page_user(request), EqPerm.MANAGE)), "tab": "list"},
        present=lambda units: [(u, due.get(u.pk)) for u in units],
    )


@needs(EqPerm.VIEW)
def due_report(request: HttpRequest) -> HttpResponse:
    try:
        days = max(0, min(int(request.GET.get("days", "30")), 3660))
    except ValueError:
        days = 30
    return render(
        request,
        "equipment/due.html",
        {"rows": selectors.due_plans(within_days=days), "days": days, "tab": "due"},
    )


# --- a unit -------------------------------------------------------------------------------
@needs(EqPerm.VIEW)
def detail(request: HttpRequest, tag: str) -> HttpResponse:
    unit = _unit(tag)
    user = page_user(request)
    at = unit.site
    return render(
        request,
        "equipment/detail.html",
        {
            "u": unit,
            "usable": selectors.check_equipment_usable(unit),
            "gaps": services.entry_gaps(unit) if unit.status != "in_service" else [],
            "qualifications": unit.qualifications.select_related(
                "document", "performed_by", "approved_by"
            ),
            "plans": selectors.plan_rows(unit),
            "records": unit.records.select_related("plan", "performed_by")[:100],
            "usages": unit.usages.select_related("started_by", "ended_by")[:100],
            "failures": selectors.failed_calibrations(unit).prefetch_related("impact"),
            "signatures": selectors.unit_signatures(unit),
            "timeline": core_selectors.timeline(*record_ref(unit)),
            "can_manage": has_perm(user, EqPerm.MANAGE, at) and unit.status != "retired",
            "can_service": has_perm(user, EqPerm.SERVICE, at) and unit.status != "retired",
            "can_use": has_perm(user, EqPerm.USE, at),
            "can_approve": has_perm(user, EqPerm.QUALIFICATION_APPROVE, at),
        },
    )


@needs(EqPerm.VIEW)
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    current = getattr(request, "site", None)
    form = ef.EquipmentForm(
        _post(request),
        sites=_sites_where(user, EqPerm.MANAGE),
        initial={"site": current.pk if current else None},
    )

    def run(data: dict[str, Any]) -> str:
        site = data.pop("site")
        unit = services.register_equipment(actor=user, site_id=site.pk, **data)
        return _detail(unit)

    return _form_page(
        request,
        form=form,
        title="Register a unit",
        submit="Register",
        run=run,
        back=reverse("equipment:equipment_list"),
        done="Unit registered: it is in qualification until IQ, OQ and PQ are approved.",
    )


@needs(EqPerm.VIEW)
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, tag: str) -> HttpResponse:
    unit = _unit(tag)
    form = ef.EditForm.for_unit(_post(request), unit)

    def run(data: dict[str, Any]) -> None:
        reason = data.pop("reason")
        changed = {k: v for k, v in data.items() if v != getattr(unit, k)}
        services.update_equipment(
            actor=page_user(request), equipment_id=unit.equipment_id, reason=reason, **changed
        )

    return _form_page(
        request,
        form=form,
        title=f"Correct {unit.equipment_id}",
        submit="Save correction",
        run=run,
        back=_detail(unit),
        done="Details corrected.",
    )


def _unit_step_view(
    form_class: type[forms.Form],
    service: Callable[..., object],
    title: str,
    intro: str | Callable[[Equipment], str],
    submit: str,
    done: str,
) -> Callable[..., HttpResponse]:
    """A one-unit step page (status, qualification, plan), made from its texts."""

    @needs(EqPerm.VIEW)
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest, tag: str) -> HttpResponse:
        return _unit_step(
            request, tag, form_class, service, title=title, intro=intro, submit=submit, done=done
        )

    return view


change_status = _unit_step_view(
    ef.StatusForm,
    services.change_status,
    "Change the status of {unit}",
    lambda unit: (
        f"Now: {unit.get_status_display()}. Entering service needs IQ, OQ and PQ approved."
    ),
    "Change status",
    "Status changed.",
)
add_qualification = _unit_step_view(
    ef.QualificationForm,
    services.record_qualification,
    "Record a qualification of {unit}",
    "It counts once a QA approver approves it with a signature.",
    "Record",
    "Qualification recorded; waiting for QA approval.",
)
add_plan = _unit_step_view(
    ef.PlanForm,
    services.add_plan,
    "Plan a calibration or maintenance of {unit}",
    "Until its first passing record, the unit is not usable.",
    "Add plan",
    "Plan added.",
)


@needs(EqPerm.VIEW)
@require_http_methods(["GET", "POST"])
def approve_qualification(request: HttpRequest, pk: int) -> HttpResponse:
    rec = get_object_or_404(
        QualificationRecord.objects.select_related("equipment", "document"), pk=pk
    )
    form = ef.SignForm(_post(request))

    def run(data: dict[str, Any]) -> None:
        services.approve_qualification(
            actor=page_user(request), record_id=rec.pk, request=request, **data
        )

    return _form_page(
        request,
        form=form,
        title=f"Approve {rec.stage} of {rec.equipment.equipment_id}",
        intro=f"{rec.get_stage_display()} against {rec.document.number} v{rec.document_version}: "
        f"{rec.get_result_display().lower()}, executed {rec.performed_on:%Y-%m-%d}.",
        submit="Sign: approved",
        run=run,
        back=_detail(rec.equipment),
        done="Qualification approved.",
        signs=True,
    )


@needs(EqPerm.VIEW)
@require_http_methods(["GET", "POST"])
def change_interval(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(MaintenancePlan.objects.select_related("equipment"), pk=pk)
    form = ef.IntervalForm(_post(request), initial={"interval_days": plan.interval_days})

    def run(data: dict[str, Any]) -> None:
        services.change_interval(actor=page_user(request), plan_id=plan.pk, **data)

    return _form_page(
        request,
        form=form,
        title=f"Change the interval of {plan}",
        submit="Change interval",
        run=run,
        back=_detail(plan.equipment),
        done="Interval changed.",
    )


def _site_aware(value: dt.datetime, site: Site) -> dt.datetime:
    """A datetime-local input is the site's wall-clock time."""
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(site.time_zone))
    return value


@needs(EqPerm.VIEW)
@require_http_methods(["GET", "POST"])
def record_service(request: HttpRequest, tag: str) -> HttpResponse:
    unit = _unit(tag)
    initial = {"plan": request.GET.get("plan", "")}
    form = ef.ServiceForm(
        _post(request),
        request.FILES if request.method == "POST" else None,
        unit=unit,
        initial=initial,
    )

    def run(data: dict[str, Any]) -> str:
        rec = services.record_service(
            actor=page_user(request),
            plan_id=int(data["plan"]),
            performed_at=_site_aware(data["performed_at"], unit.site),
            result=data["result"],
            remarks=data["remarks"],
            certificate=data["certificate"],
            password=data["password"],
            request=request,
        )
        if rec.failed and rec.kind == "calibration":
            messages.warning(
                request,
                f"Calibration failed: {unit.equipment_id} is out of service and deviation "
                f"{rec.deviation_number} was raised. Review the impact list.",
            )
            return reverse("equipment:impact", args=[rec.pk])
        return _detail(unit)

    return _form_page(
        request,
        form=form,
        title=f"Record a calibration or maintenance of {unit.equipment_id}",
        intro="A failed calibration takes the unit out of service at once, raises a deviation "
        "and lists every batch that used it since the last passing calibration.",
        submit="Sign: performed",
        run=run,
        back=_detail(unit),
        done="Record saved and signed.",
        signs=True,
        multipart=True,
    )


@needs(EqPerm.VIEW)
def impact(request: HttpRequest, pk: int) -> HttpResponse:
    rec = get_object_or_404(
        ServiceRecord.objects.select_related("equipment", "plan", "performed_by"), pk=pk
    )
    return render(
        request,
        "equipment/impact.html",
        {
            "rec": rec,
            "u": rec.equipment,
            "items": selectors.impact_items(rec),
            "batches": selectors.impact_batches(rec),
        },
    )


@needs(EqPerm.VIEW)
def certificate(request: HttpRequest, pk: int) -> HttpResponse | FileResponse:
    rec = get_object_or_404(ServiceRecord.objects.select_related("equipment"), pk=pk)
    try:
        return certificate_response(page_user(request), rec)
    except DomainError as exc:
        return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain")


@needs(EqPerm.VIEW)
@require_http_methods(["GET", "POST"])
def start_usage(request: HttpRequest, tag: str) -> HttpResponse:
    unit = _unit(tag)
    form = ef.UsageStartForm(_post(request))

    def run(data: dict[str, Any]) -> None:
        services.start_usage(
            actor=page_user(request),
            equipment_id=unit.equipment_id,
            batch_ref=(data["batch_type"], data["batch_id"]),
            batch_label=data["batch_label"],
            step=data["step"],
        )

    return _form_page(
        request,
        form=form,
        title=f"Start using {unit.equipment_id}",
        intro="Refused unless the unit is in service, qualified, in calibration and maintenance, "
        "and not in use by another batch.",
        submit="Start usage",
        run=run,
        back=_detail(unit),
        done="Usage started.",
    )


@needs(EqPerm.VIEW)
@require_http_methods(["GET", "POST"])
def end_usage(request: HttpRequest, pk: int) -> HttpResponse:
    usage = get_object_or_404(Usage.objects.select_related("equipment"), pk=pk)
    form = ef.ConfirmForm(_post(request))

    def run(data: dict[str, Any]) -> None:
        services.end_usage(actor=page_user(request), usage_id=usage.pk)

    return _form_page(
        request,
        form=form,
        title=f"End usage: {usage}",
        intro="Ends now (server time).",
        submit="End usage",
        run=run,
        back=_detail(usage.equipment),
        done="Usage ended.",
    )
