"""Quality pages: lists, detail pages with their timeline, one form per transition.

Thin: a form parses, a service decides, a refusal lands on the form with a 4xx. Each step
of a lifecycle is a `Step` (title, form, the service call), served by one view per record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from vein2vein.core import selectors as core_selectors
from vein2vein.core.actors import page_user
from vein2vein.core.errors import DomainError, ValidationFailed
from vein2vein.core.forms import attach_error, run_form
from vein2vein.core.models import Site, User
from vein2vein.core.permissions import active_roles, has_perm
from vein2vein.core.views import needs
from vein2vein.web.lists import list_page

from . import forms as qf
from . import selectors, services
from .choices import (
    ACTION_FINISHED,
    DEVIATION_ACTIVE,
    CapaStatus,
    ChangeStatus,
    DeviationStatus,
    TaskStatus,
)
from .filters import CapaFilterSet, ChangeFilterSet, DeviationFilterSet
from .models import (
    Capa,
    CapaAction,
    ChangeControl,
    ChangeTask,
    Deviation,
    DeviationLink,
    EffectivenessCheck,
)
from .permissions import QPerm


def _sites_where(user: User, perm: str) -> Any:
    """Sites where `user` holds `perm`, current site first (the default choice)."""
    ids = [s.pk for s in core_selectors.my_sites(user) if has_perm(user, perm, s)]
    return Site.objects.filter(pk__in=ids).order_by("code")


def _can(user: User, perm: str, site: Site) -> bool:
    return has_perm(user, perm, site)


@dataclass(frozen=True)
class Button:
    label: str
    url: str
    primary: bool = False


# --- the step machinery ---------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One transition as a page: a form, then a service call that may refuse."""

    title: str
    submit: str
    form: Callable[[Mapping[str, Any] | None, Any], forms.Form]
    run: Callable[[HttpRequest, Any, forms.Form], Any]
    intro: str = ""
    done: str = "Saved."
    signs: bool = False


def _run_step(request: HttpRequest, step: Step, record: Any, back: str) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = step.form(data, record)
    outcome = run_form(
        request,
        form,
        lambda data: step.run(request, record, form),
    )
    if outcome.done:
        result = outcome.result
        messages.success(request, step.done)
        return redirect(result if isinstance(result, str) else back)
    status = outcome.status
    context = {
        "form": form,
        "title": step.title.format(record=record),
        "intro": step.intro,
        "submit": step.submit,
        "record": record,
        "back": back,
        "signs": step.signs,
    }
    return render(request, "quality/form.html", context, status=status)


def _stepper(
    model: type[Model], steps: Mapping[str, Step], detail: Callable[[Any], str]
) -> Callable[..., HttpResponse]:
    @needs(QPerm.VIEW)  # type: ignore[arg-type]
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest, pk: int, step: str) -> HttpResponse:
        spec = steps.get(step)
        if spec is None:
            raise Http404("no such step")
        record = get_object_or_404(model, pk=pk)
        return _run_step(request, spec, record, detail(record))

    return view


def _dev_url(dev: Deviation) -> str:
    return reverse("quality:deviation_detail", args=[dev.pk])


def _capa_url(capa: Capa) -> str:
    return reverse("quality:capa_detail", args=[capa.pk])


def _change_url(change: ChangeControl) -> str:
    return reverse("quality:change_detail", args=[change.pk])


# --- deviations -----------------------------------------------------------------------------
@needs(QPerm.VIEW)  # type: ignore[arg-type]
def deviation_list(request: HttpRequest) -> HttpResponse:
    filtering = any(key != "page" for key in request.GET)
    return list_page(
        request,
        "quality/deviation_list.html",
        DeviationFilterSet,
        selectors.deviations(),  # type: ignore[arg-type]
        {
            "can_raise": bool(_sites_where(page_user(request), QPerm.DEVIATION_RAISE)),
            "filtering": filtering,
            "tab": "deviations",
        },
        default={"status": "active"},
    )


@needs(QPerm.VIEW)  # type: ignore[arg-type]
@require_http_methods(["GET", "POST"])
def deviation_create(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    sites = _sites_where(user, QPerm.DEVIATION_RAISE)
    current = getattr(request, "site", None)
    form = qf.DeviationForm(
        request.POST or None,
        sites=sites,
        initial={"site": current.pk if current else None},
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = dict(form.cleaned_data)
            site = data.pop("site")
            try:
                dev = services.create_deviation(actor=user, site_id=site.pk, **data)
            except DomainError as exc:
                attach_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, f"Deviation {dev.number} raised.")
                return redirect("quality:deviation_detail", pk=dev.pk)
    return render(
        request,
        "quality/form.html",
        {
            "form": form,
            "title": "Raise a deviation",
            "submit": "Raise deviation",
            "back": reverse("quality:deviation_list"),
            "intro": "Record what happened and what you did about it straight away. "
            "QA will classify it and lead the investigation.",
        },
        status=status,
    )


def _deviation_buttons(user: User, dev: Deviation) -> list[Button]:
    site, s, out = dev.site, dev.status, []

    def add(step: str, label: str, primary: bool = False) -> None:
        out.append(Button(label, reverse("quality:deviation_step", args=[dev.pk, step]), primary))

    manage = _can(user, QPerm.DEVIATION_MANAGE, site)
    if dev.is_active and manage:
        add("classify", "Reclassify" if dev.classification else "Classify", not dev.classification)
    if s == DeviationStatus.OPEN and manage and dev.classification:
        add("investigate", "Start investigation", True)
    if s in (DeviationStatus.OPEN, DeviationStatus.UNDER_INVESTIGATION) and manage:
        add("investigation", "Record investigation")
    if s == DeviationStatus.UNDER_INVESTIGATION and manage:
        add("submit", "Submit for QA approval", True)
    if dev.is_active and _can(user, QPerm.CAPA_MANAGE, site):
        add("capa", "New CAPA")
        add("link-capa", "Link existing CAPA")
    if dev.is_active and _can(user, QPerm.DEVIATION_RAISE, site):
        add("link", "Link affected record")
    if s == DeviationStatus.PENDING_QA_APPROVAL and _can(user, QPerm.DEVIATION_CLOSE, site):
        add("close", "Close with signature", True)
        add("return", "Return to investigation")
    if dev.is_active and _can(user, QPerm.DEVIATION_EXTEND, site):
        add("extend", "Extend due date")
    if s in (DeviationStatus.OPEN, DeviationStatus.UNDER_INVESTIGATION) and manage:
        add("cancel", "Cancel")
    return out


@needs(QPerm.VIEW)  # type: ignore[arg-type]
def deviation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dev = get_object_or_404(
        Deviation.objects.select_related("site", "raised_by", "investigator", "closed_by"), pk=pk
    )
    user = page_user(request)
    view = selectors.deviation_view(dev)
    return render(
        request,
        "quality/deviation_detail.html",
        {
            "d": dev,
            "v": view,
            "buttons": _deviation_buttons(user, dev),
            "can_unlink": dev.is_active and _can(user, QPerm.DEVIATION_MANAGE, dev.site),
            "timeline": view.timeline,
            "signatures": view.signatures,
            "tab": "deviations",
        },
    )


def _investigation_run(request: HttpRequest, dev: Deviation, form: Any) -> Any:
    changed = form.service_fields(qf.InvestigationForm.initial_for(dev))
    if not changed:
        raise ValidationFailed("nothing to change: every value is as it was")
    return services.update_investigation(
        actor=page_user(request), deviation_id=dev.pk, reason=form.cleaned_data["reason"], **changed
    )


def _new_capa_for(request: HttpRequest, dev: Deviation, form: Any) -> str:
    data = form.cleaned_data
    capa = services.create_capa(
        actor=page_user(request),
        title=data["title"],
        description=data["description"],
        site_id=data["site"].pk,
        owner_id=data["owner"].pk if data["owner"] else None,
        deviation_ids=[dev.pk],
    )
    return _capa_url(capa)


def _close_run(request: HttpRequest, dev: Deviation, form: Any) -> Any:
    return services.close_deviation(
        actor=page_user(request),
        deviation_id=dev.pk,
        password=form.cleaned_data["password"],
        comment=form.cleaned_data["comment"],
        justifications=form.justifications(),
        request=request,
    )


DEVIATION_STEPS: dict[str, Step] = {
    "classify": Step(
        "Classify {record.number}",
        "Save classification",
        lambda data, d: qf.ClassifyForm(
            data,
            initial={
                "classification": d.classification,
                "justification": d.classification_justification,
            },
        ),
        lambda r, d, f: services.classify_deviation(
            actor=page_user(r), deviation_id=d.pk, **f.cleaned_data
        ),
        intro="Minor, major or critical, and why. The due date follows the classification.",
        done="Classification saved.",
    ),
    "investigate": Step(
        "Start the investigation of {record.number}",
        "Start investigation",
        lambda data, d: qf.InvestigatorForm(data, site=d.site),
        lambda r, d, f: services.start_investigation(
            actor=page_user(r),
            deviation_id=d.pk,
            investigator_id=f.cleaned_data["investigator"].pk
            if f.cleaned_data["investigator"]
            else None,
        ),
        done="Investigation started.",
    ),
    "investigation": Step(
        "Investigation of {record.number}",
        "Save investigation",
        lambda data, d: qf.InvestigationForm(data, initial=qf.InvestigationForm.initial_for(d)),
        _investigation_run,
        intro="Immediate actions, impact on product and patient, and the root cause: "
        "5 whys (up to five why/answer pairs) or an Ishikawa diagram over the 6M.",
        done="Investigation saved.",
    ),
    "submit": Step(
        "Submit {record.number} for QA approval",
        "Submit for QA approval",
        lambda data, d: qf.ConfirmForm(data),
        lambda r, d, f: services.submit_for_approval(actor=page_user(r), deviation_id=d.pk),
        intro="The impact assessment and the root cause must be complete.",
        done="Submitted for QA approval.",
    ),
    "return": Step(
        "Return {record.number} to investigation",
        "Return to investigation",
        lambda data, d: qf.ReasonForm(data),
        lambda r, d, f: services.return_to_investigation(
            actor=page_user(r), deviation_id=d.pk, reason=f.cleaned_data["reason"]
        ),
        done="Returned to the investigator.",
    ),
    "close": Step(
        "Close {record.number}",
        "Sign: approve and close",
        lambda data, d: qf.CloseDeviationForm(
            data, open_actions=selectors.deviation_view(d).open_actions
        ),
        _close_run,
        intro="Closing signs the deviation as approved by you (21 CFR 11). Every CAPA action "
        "must be done, or justified here.",
        done="Deviation closed and signed.",
        signs=True,
    ),
    "cancel": Step(
        "Cancel {record.number}",
        "Cancel deviation",
        lambda data, d: qf.ReasonForm(data),
        lambda r, d, f: services.cancel_deviation(
            actor=page_user(r), deviation_id=d.pk, reason=f.cleaned_data["reason"]
        ),
        done="Deviation cancelled.",
    ),
    "extend": Step(
        "Extend the due date of {record.number}",
        "Sign: approve extension",
        lambda data, d: qf.ExtendForm(data),
        lambda r, d, f: services.extend_due_date(
            actor=page_user(r),
            deviation_id=d.pk,
            new_due_date=f.cleaned_data["new_due_date"],
            reason=f.cleaned_data["reason"],
            password=f.cleaned_data["password"],
            request=r,
        ),
        intro="The current due date stays in the audit trail.",
        done="Due date extended.",
        signs=True,
    ),
    "link": Step(
        "Link an affected record to {record.number}",
        "Link record",
        lambda data, d: qf.LinkForm(data),
        lambda r, d, f: services.link_record(
            actor=page_user(r), deviation_id=d.pk, **f.cleaned_data
        ),
        intro="A batch, lot, piece of equipment, order, sample or alarm, by its record type "
        "and id.",
        done="Record linked.",
    ),
    "capa": Step(
        "New CAPA for {record.number}",
        "Open CAPA",
        lambda data, d: qf.CapaForm(
            data,
            sites=Site.objects.filter(pk=d.site_id),
            initial={"site": d.site_id, "title": d.title},
        ),
        _new_capa_for,
        done="CAPA opened.",
    ),
    "link-capa": Step(
        "Link a CAPA to {record.number}",
        "Link CAPA",
        lambda data, d: qf.LinkCapaForm(
            data, capas=Capa.objects.filter(status=CapaStatus.OPEN).exclude(deviations=d)
        ),
        lambda r, d, f: services.link_deviation(
            actor=page_user(r), capa_id=f.cleaned_data["capa"].pk, deviation_id=d.pk
        ),
        done="CAPA linked.",
    ),
}
deviation_step = _stepper(Deviation, DEVIATION_STEPS, _dev_url)


LINK_STEPS = {
    "remove": Step(
        "Remove the link to {record.record_type}:{record.record_id}",
        "Remove link",
        lambda data, link: qf.ReasonForm(data),
        lambda r, link, f: services.remove_link(
            actor=page_user(r), link_id=link.pk, reason=f.cleaned_data["reason"]
        ),
        done="Link removed.",
    )
}
link_step = _stepper(DeviationLink, LINK_STEPS, lambda link: _dev_url(link.deviation))


# --- CAPA -----------------------------------------------------------------------------------
@needs(QPerm.VIEW)  # type: ignore[arg-type]
def capa_list(request: HttpRequest) -> HttpResponse:
    return list_page(
        request,
        "quality/capa_list.html",
        CapaFilterSet,
        selectors.capas(),  # type: ignore[arg-type]
        {"can_create": bool(_sites_where(page_user(request), QPerm.CAPA_MANAGE)), "tab": "capa"},
    )


@needs(QPerm.VIEW)  # type: ignore[arg-type]
@require_http_methods(["GET", "POST"])
def capa_create(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    current = getattr(request, "site", None)
    form = qf.CapaForm(
        request.POST or None,
        sites=_sites_where(user, QPerm.CAPA_MANAGE),
        initial={"site": current.pk if current else None},
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                capa = services.create_capa(
                    actor=user,
                    title=data["title"],
                    description=data["description"],
                    site_id=data["site"].pk,
                    owner_id=data["owner"].pk if data["owner"] else None,
                )
            except DomainError as exc:
                attach_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, f"CAPA {capa.number} opened.")
                return redirect(_capa_url(capa))
    return render(
        request,
        "quality/form.html",
        {
            "form": form,
            "title": "New standalone CAPA",
            "submit": "Open CAPA",
            "back": reverse("quality:capa_list"),
        },
        status=status,
    )


def _capa_buttons(user: User, capa: Capa) -> list[Button]:
    out: list[Button] = []
    if capa.status != CapaStatus.OPEN:
        return out

    def add(step: str, label: str, primary: bool = False) -> None:
        out.append(Button(label, reverse("quality:capa_step", args=[capa.pk, step]), primary))

    if _can(user, QPerm.CAPA_MANAGE, capa.site):
        add("action", "Add action", True)
        if not capa.checks.filter(result="").exists():
            add("check", "Plan effectiveness check")
        add("link", "Link deviation")
    if _can(user, QPerm.CAPA_CLOSE, capa.site):
        add("close", "Close CAPA", True)
    if _can(user, QPerm.CAPA_MANAGE, capa.site):
        add("cancel", "Cancel CAPA")
    return out


@needs(QPerm.VIEW)  # type: ignore[arg-type]
def capa_detail(request: HttpRequest, pk: int) -> HttpResponse:
    capa = get_object_or_404(Capa.objects.select_related("site", "owner"), pk=pk)
    user = page_user(request)
    actions = list(capa.actions.select_related("owner", "completed_by"))
    checks = list(capa.checks.select_related("checked_by"))
    manage = _can(user, QPerm.CAPA_MANAGE, capa.site)
    rows = [
        {
            "a": a,
            "can_work": capa.status == CapaStatus.OPEN
            and a.status not in ACTION_FINISHED
            and (
                manage or (a.owner_id == user.pk and _can(user, QPerm.CAPA_ACTION_WORK, capa.site))
            ),
            "can_cancel": capa.status == CapaStatus.OPEN
            and a.status not in ACTION_FINISHED
            and manage,
        }
        for a in actions
    ]
    can_check = capa.status == CapaStatus.OPEN and _can(user, QPerm.CAPA_EFFECTIVENESS, capa.site)
    return render(
        request,
        "quality/capa_detail.html",
        {
            "c": capa,
            "actions": rows,
            "checks": checks,
            "can_check": can_check,
            "deviations": capa.deviations.order_by("pk"),
            "buttons": _capa_buttons(user, capa),
            "timeline": selectors.capa_timeline(capa),
            "signatures": [m for chk in checks for m in selectors.signature_panel(chk)],
            "tab": "capa",
        },
    )


CAPA_STEPS: dict[str, Step] = {
    "action": Step(
        "Add an action to {record.number}",
        "Add action",
        lambda data, c: qf.ActionForm(data, site=c.site),
        lambda r, c, f: services.add_action(
            actor=page_user(r),
            capa_id=c.pk,
            kind=f.cleaned_data["kind"],
            description=f.cleaned_data["description"],
            owner_id=f.cleaned_data["owner"].pk,
            due_date=f.cleaned_data["due_date"],
        ),
        done="Action added.",
    ),
    "check": Step(
        "Plan the effectiveness check of {record.number}",
        "Plan check",
        lambda data, c: qf.CheckPlanForm(data),
        lambda r, c, f: services.plan_effectiveness_check(
            actor=page_user(r), capa_id=c.pk, **f.cleaned_data
        ),
        done="Effectiveness check planned.",
    ),
    "link": Step(
        "Link a deviation to {record.number}",
        "Link deviation",
        lambda data, c: qf.LinkDeviationForm(
            data,
            deviations=Deviation.objects.filter(status__in=DEVIATION_ACTIVE).exclude(capas=c),
        ),
        lambda r, c, f: services.link_deviation(
            actor=page_user(r), capa_id=c.pk, deviation_id=f.cleaned_data["deviation"].pk
        ),
        done="Deviation linked.",
    ),
    "close": Step(
        "Close {record.number}",
        "Close CAPA",
        lambda data, c: qf.CommentForm(data),
        lambda r, c, f: services.close_capa(
            actor=page_user(r), capa_id=c.pk, comment=f.cleaned_data["comment"]
        ),
        intro="Every action must be done or cancelled, and the latest effectiveness check "
        "must have passed.",
        done="CAPA closed.",
    ),
    "cancel": Step(
        "Cancel {record.number}",
        "Cancel CAPA",
        lambda data, c: qf.ReasonForm(data),
        lambda r, c, f: services.cancel_capa(
            actor=page_user(r), capa_id=c.pk, reason=f.cleaned_data["reason"]
        ),
        intro="Its unfinished actions are cancelled with the same reason.",
        done="CAPA cancelled.",
    ),
}
capa_step = _stepper(Capa, CAPA_STEPS, _capa_url)

ACTION_STEPS: dict[str, Step] = {
    "start": Step(
        "Start {record}",
        "Start action",
        lambda data, a: qf.ConfirmForm(data),
        lambda r, a, f: services.start_action(actor=page_user(r), action_id=a.pk),
        done="Action in progress.",
    ),
    "complete": Step(
        "Complete {record}",
        "Mark done",
        lambda data, a: qf.EvidenceForm(data),
        lambda r, a, f: services.complete_action(
            actor=page_user(r), action_id=a.pk, **f.cleaned_data
        ),
        done="Action done.",
    ),
    "cancel": Step(
        "Cancel {record}",
        "Cancel action",
        lambda data, a: qf.ReasonForm(data),
        lambda r, a, f: services.cancel_action(
            actor=page_user(r), action_id=a.pk, reason=f.cleaned_data["reason"]
        ),
        done="Action cancelled.",
    ),
}
action_step = _stepper(CapaAction, ACTION_STEPS, lambda a: _capa_url(a.capa))

CHECK_STEPS: dict[str, Step] = {
    "record": Step(
        "Record the result of {record}",
        "Sign: review result",
        lambda data, c: qf.CheckResultForm(data),
        lambda r, c, f: services.record_effectiveness_check(
            actor=page_user(r), check_id=c.pk, request=r, **f.cleaned_data
        ),
        intro="You sign the result as reviewed. You may not own any action of this CAPA.",
        done="Effectiveness check signed.",
        signs=True,
    )
}
check_step = _stepper(EffectivenessCheck, CHECK_STEPS, lambda c: _capa_url(c.capa))


# --- change control -------------------------------------------------------------------------
@needs(QPerm.VIEW)  # type: ignore[arg-type]
def change_list(request: HttpRequest) -> HttpResponse:
    return list_page(
        request,
        "quality/change_list.html",
        ChangeFilterSet,
        selectors.change_controls(),  # type: ignore[arg-type]
        {
            "can_create": bool(_sites_where(page_user(request), QPerm.CHANGE_REQUEST)),
            "tab": "changes",
        },
    )


@needs(QPerm.VIEW)  # type: ignore[arg-type]
@require_http_methods(["GET", "POST"])
def change_create(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    current = getattr(request, "site", None)
    form = qf.ChangeForm(
        request.POST or None,
        sites=_sites_where(user, QPerm.CHANGE_REQUEST),
        initial={"site": current.pk if current else None},
    )
    outcome = run_form(
        request,
        form,
        lambda data: services.create_change(
            actor=user, site_id=data["site"].pk, **form.service_fields()
        ),
    )
    if outcome.done:
        change = outcome.result
        messages.success(request, f"Change request {change.number} saved as a draft.")
        return redirect(_change_url(change))
    status = outcome.status
    return render(
        request,
        "quality/form.html",
        {
            "form": form,
            "title": "Request a change",
            "submit": "Save draft",
            "back": reverse("quality:change_list"),
            "intro": "What changes, why, what it touches, and its impact on validation, "
            "regulatory filings and training.",
        },
        status=status,
    )


def _approver_roles(user: User, change: ChangeControl) -> list[tuple[str, str]]:
    held = {str(r) for r in active_roles(user, change.site)}
    pending = services.pending_roles(change)
    return [(r, r.replace("_", " ").title()) for r in pending if r in held]


def _change_buttons(user: User, change: ChangeControl) -> list[Button]:
    out: list[Button] = []
    s = change.status
    site = change.site
    mine = change.requested_by_id == user.pk and _can(user, QPerm.CHANGE_REQUEST, site)
    manage = _can(user, QPerm.CHANGE_MANAGE, site)

    def add(step: str, label: str, primary: bool = False) -> None:
        out.append(Button(label, reverse("quality:change_step", args=[change.pk, step]), primary))

    if s == ChangeStatus.DRAFT and (mine or manage):
        add("edit", "Edit")
        add("submit", "Submit for approval", True)
    if s == ChangeStatus.SUBMITTED and change.requested_by_id != user.pk:
        if _approver_roles(user, change):
            add("approve", "Approve with signature", True)
        if {str(r) for r in active_roles(user, site)} & set(change.required_roles):
            add("reject", "Reject")
    if s == ChangeStatus.APPROVED and (mine or manage):
        add("implement", "Start implementation", True)
    if change.is_active and (mine or manage):
        add("task", "Add task")
    if s == ChangeStatus.IMPLEMENTING and manage:
        add("close", "Close change", True)
    if change.is_active and (mine or manage):
        add("cancel", "Cancel change")
    return out


@needs(QPerm.VIEW)  # type: ignore[arg-type]
def change_detail(request: HttpRequest, pk: int) -> HttpResponse:
    change = get_object_or_404(ChangeControl.objects.select_related("site", "requested_by"), pk=pk)
    user = page_user(request)
    manage = _can(user, QPerm.CHANGE_MANAGE, change.site)
    tasks = [
        {
            "t": t,
            "can_complete": change.status == ChangeStatus.IMPLEMENTING
            and t.status == TaskStatus.OPEN
            and (manage or t.owner_id == user.pk),
            "can_cancel": change.is_active and t.status == TaskStatus.OPEN and manage,
        }
        for t in change.tasks.select_related("owner", "completed_by")
    ]
    approvals = {a.role: a for a in change.approvals.select_related("approver")}
    required = change.required_roles or list(services.pending_roles(change))
    return render(
        request,
        "quality/change_detail.html",
        {
            "c": change,
            "tasks": tasks,
            "approval_rows": [(r, approvals.get(r)) for r in required],
            "buttons": _change_buttons(user, change),
            "timeline": selectors.change_timeline(change),
            "signatures": selectors.signature_panel(change),
            "tab": "changes",
        },
    )


def _edit_change(request: HttpRequest, change: ChangeControl, form: Any) -> Any:
    """Send the service only what the person changed."""
    before = {
        "title": change.title,
        "what": change.what,
        "why": change.why,
        "affected": change.affected,
    }
    for name in ("validation", "regulatory", "training"):
        before[f"{name}_impact"] = getattr(change, f"{name}_impact")
        before[f"{name}_notes"] = getattr(change, f"{name}_notes")
    changed = {k: v for k, v in form.service_fields().items() if v != before.get(k)}
    if not changed:
        raise ValidationFailed("nothing to change: every value is as it was")
    return services.update_change(actor=page_user(request), change_id=change.pk, **changed)


CHANGE_STEPS: dict[str, Step] = {
    "edit": Step(
        "Edit {record.number}",
        "Save draft",
        lambda data, c: qf.ChangeForm(data, initial=qf.ChangeForm.initial_for(c)),
        _edit_change,
        done="Draft saved.",
    ),
    "submit": Step(
        "Submit {record.number} for approval",
        "Submit for approval",
        lambda data, c: qf.ConfirmForm(data),
        lambda r, c, f: services.submit_change(actor=page_user(r), change_id=c.pk),
        intro="The impact assessment must be complete. The roles whose approval it needs are "
        "fixed now.",
        done="Submitted for approval.",
    ),
    "approve": Step(
        "Approve {record.number}",
        "Sign: approve change",
        lambda data, c: qf.ApproveForm(data, roles=[]),
        lambda r, c, f: services.approve_change(
            actor=page_user(r),
            change_id=c.pk,
            role=f.cleaned_data["role"],
            password=f.cleaned_data["password"],
            reason=f.cleaned_data["comment"],
            request=r,
        ),
        intro="You approve the request and its impact assessment as they stand.",
        done="Approval signed.",
        signs=True,
    ),
    "reject": Step(
        "Reject {record.number}",
        "Reject change",
        lambda data, c: qf.ReasonForm(data),
        lambda r, c, f: services.reject_change(
            actor=page_user(r), change_id=c.pk, reason=f.cleaned_data["reason"]
        ),
        done="Change rejected.",
    ),
    "implement": Step(
        "Start implementing {record.number}",
        "Start implementation",
        lambda data, c: qf.ConfirmForm(data),
        lambda r, c, f: services.start_implementation(actor=page_user(r), change_id=c.pk),
        done="Implementation started.",
    ),
    "task": Step(
        "Add an implementation task to {record.number}",
        "Add task",
        lambda data, c: qf.TaskForm(data, site=c.site),
        lambda r, c, f: services.add_task(
            actor=page_user(r),
            change_id=c.pk,
            description=f.cleaned_data["description"],
            owner_id=f.cleaned_data["owner"].pk,
            due_date=f.cleaned_data["due_date"],
        ),
        done="Task added.",
    ),
    "close": Step(
        "Close {record.number}",
        "Close change",
        lambda data, c: qf.CommentForm(data),
        lambda r, c, f: services.close_change(
            actor=page_user(r), change_id=c.pk, comment=f.cleaned_data["comment"]
        ),
        intro="Every approval must be in and every task done.",
        done="Change closed.",
    ),
    "cancel": Step(
        "Cancel {record.number}",
        "Cancel change",
        lambda data, c: qf.ReasonForm(data),
        lambda r, c, f: services.cancel_change(
            actor=page_user(r), change_id=c.pk, reason=f.cleaned_data["reason"]
        ),
        done="Change cancelled.",
    ),
}
_change_stepper = _stepper(ChangeControl, CHANGE_STEPS, _change_url)


@needs(QPerm.VIEW)  # type: ignore[arg-type]
@require_http_methods(["GET", "POST"])
def change_step(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    if step == "approve":
        # The role choices depend on who asks: build this step per request.
        change = get_object_or_404(ChangeControl, pk=pk)
        roles = _approver_roles(page_user(request), change) or [
            (r, r.replace("_", " ").title()) for r in change.required_roles
        ]
        spec = CHANGE_STEPS["approve"]
        per_user = Step(
            spec.title,
            spec.submit,
            lambda data, c: qf.ApproveForm(data, roles=roles),
            spec.run,
            spec.intro,
            spec.done,
            spec.signs,
        )
        return _run_step(request, per_user, change, _change_url(change))
    return _change_stepper(request, pk=pk, step=step)


TASK_STEPS: dict[str, Step] = {
    "complete": Step(
        "Complete {record}",
        "Mark done",
        lambda data, t: qf.EvidenceForm(data),
        lambda r, t, f: services.complete_task(actor=page_user(r), task_id=t.pk, **f.cleaned_data),
        done="Task done.",
    ),
    "cancel": Step(
        "Cancel {record}",
        "Cancel task",
        lambda data, t: qf.ReasonForm(data),
        lambda r, t, f: services.cancel_task(
            actor=page_user(r), task_id=t.pk, reason=f.cleaned_data["reason"]
        ),
        done="Task cancelled.",
    ),
}
task_step = _stepper(ChangeTask, TASK_STEPS, lambda t: _change_url(t.change))


# --- reports --------------------------------------------------------------------------------
@needs(QPerm.VIEW)  # type: ignore[arg-type]
def overdue_report(request: HttpRequest) -> HttpResponse:
    return render(
        request, "quality/overdue.html", {"report": selectors.overdue(), "tab": "overdue"}
    )
