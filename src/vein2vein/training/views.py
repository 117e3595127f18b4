"""Training pages: my training, the overview for supervisors and QA, curricula, qualifications,
and the signing forms. Thin: forms parse, services decide, selectors read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from vein2vein.core.actors import page_user
from vein2vein.core.errors import DomainError
from vein2vein.core.forms import ReasonForm, attach_error
from vein2vein.core.models import User
from vein2vein.core.permissions import has_perm
from vein2vein.core.selectors import timeline
from vein2vein.core.signing import manifestation, signatures_for
from vein2vein.core.time import now
from vein2vein.core.views import View
from vein2vein.core.views import needs as core_needs
from vein2vein.web.actions import form_action
from vein2vein.web.lists import page_filter

from . import selectors, services
from .filters import AssignmentFilterSet, QualificationFilterSet
from .forms import (
    AddDocumentForm,
    AddQualificationForm,
    CurriculumForm,
    GrantQualificationForm,
    MatrixFilterForm,
    QualificationTypeEditForm,
    QualificationTypeForm,
    SignAssignmentForm,
)
from .models import Curriculum, CurriculumItem, Qualification, QualificationType, TrainingAssignment
from .permissions import TrainingPerm


def needs(perm: TrainingPerm) -> Callable[[View], View]:
    """core's `needs` (login, then the permission, else a 403 page saying why)."""
    return core_needs(perm)


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], form: Any = None
) -> HttpResponse:
    """A page; a POST that failed (bad input or refusal) answers 4xx with the form's errors."""
    status = 200
    if request.method == "POST" and form is not None and form.errors:
        status = getattr(form, "refusal_status", 400)
    return render(request, template, context, status=status)


def _action(
    request: HttpRequest,
    form: Any,
    call: Callable[[dict[str, Any]], Any],
    *,
    title: str,
    success: Any,
    done: Any,
    **extra: Any,
) -> HttpResponse:
    """A training action page (training/form.html) through web.actions.form_action."""
    return form_action(
        request,
        form,
        call,
        template="training/form.html",
        context={"title": title, **extra},
        success=success,
        done=done,
    )


def _refuse(form: Any, exc: DomainError) -> None:
    attach_error(form, exc)
    form.refusal_status = exc.status_code


def _record_context(record: Any) -> dict[str, Any]:
    ref = f"{record._meta.app_label}.{record._meta.model_name}"
    return {
        "timeline": timeline(ref, str(record.pk)),
        "signatures": [manifestation(s, record) for s in signatures_for(record)],
    }


EXPIRY_WARNING = dt.timedelta(days=30)


def _training_context(person: User) -> dict[str, Any]:
    at = now()
    open_items = [(a, a.is_overdue(at)) for a in selectors.open_assignments(person)]
    return {
        "person": person,
        "at": at,
        "open_items": open_items,
        "overdue_count": sum(1 for _, late in open_items if late),
        "records": selectors.completed_assignments(person),
        "qualifications": [
            (q, q.state_at(at), q.expires_at - at < EXPIRY_WARNING)
            for q in selectors.current_qualifications(person)
        ],
        "status": selectors.curriculum_status(person),
        "curricula": list(selectors.curricula_for(person)),
    }


# --- my training ----------------------------------------------------------------------------
@login_required
def index(request: HttpRequest) -> HttpResponse:
    """My training: what I must read (due, overdue), my records, my qualifications."""
    me = page_user(request)
    context = _training_context(me)
    context["mine"] = True
    context["to_sign_off"] = list(selectors.awaiting_sign_off(me))
    context["can_oversee"] = has_perm(me, TrainingPerm.OVERSEE)
    return render(request, "training/my_training.html", context)


@needs(TrainingPerm.OVERSEE)
def person(request: HttpRequest, user_id: int) -> HttpResponse:
    subject = get_object_or_404(User, pk=user_id)
    context = _training_context(subject)
    me = page_user(request)
    context["mine"] = subject.pk == me.pk
    context["can_grant"] = subject.pk != me.pk and has_perm(me, TrainingPerm.QUALIFY)
    context["can_oversee"] = True
    return render(request, "training/my_training.html", context)


# --- assignments ----------------------------------------------------------------------------
@needs(TrainingPerm.OVERSEE)
def assignment_list(request: HttpRequest) -> HttpResponse:
    filterset, rows, status = page_filter(request, AssignmentFilterSet, selectors.assignments())
    items = list(rows[:500]) if status == 200 else []
    return render(
        request,
        "training/assignment_list.html",
        {"form": filterset.form, "items": items, "at": now()},
        status=status,
    )


def _may_see_assignment(user: User, assignment: TrainingAssignment) -> bool:
    return assignment.trainee_id == user.pk or has_perm(user, TrainingPerm.OVERSEE)


@login_required
def assignment_detail(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(selectors.assignments(), pk=assignment_id)
    me = page_user(request)
    if not _may_see_assignment(me, assignment):
        return render(request, "core/forbidden.html", {"perm": TrainingPerm.OVERSEE}, status=403)
    return render(
        request,
        "training/assignment_detail.html",
        {
            "a": assignment,
            "at": now(),
            "is_trainee": assignment.trainee_id == me.pk,
            "may_sign_off": assignment in selectors.awaiting_sign_off(me),
            **_record_context(assignment),
        },
    )


def _sign_page(request: HttpRequest, assignment_id: int, *, trainer: bool) -> HttpResponse:
    assignment = get_object_or_404(selectors.assignments(), pk=assignment_id)
    form = SignAssignmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        service = services.sign_off_assignment if trainer else services.sign_assignment
        try:
            done = service(
                actor=page_user(request),
                assignment_id=assignment.pk,
                password=form.cleaned_data["password"],
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except DomainError as exc:
            _refuse(form, exc)
        else:
            if trainer:
                messages.success(request, f"Signed off: {done} is completed.")
                return redirect("training:assignment_detail", assignment_id=done.pk)
            word = "completed" if done.status == "completed" else "signed; the trainer signs next"
            messages.success(request, f"{done.document_version} {word}.")
            return redirect("training:my_training")
    return _render(
        request,
        "training/assignment_sign.html",
        {"a": assignment, "form": form, "trainer": trainer},
        form,
    )


@login_required
@require_http_methods(["GET", "POST"])
def assignment_sign(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """The trainee signs 'read and understood' with their password."""
    return _sign_page(request, assignment_id, trainer=False)


@login_required
@require_http_methods(["GET", "POST"])
def assignment_sign_off(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """The trainer signs off a trainer-led item with their password."""
    return _sign_page(request, assignment_id, trainer=True)


@needs(TrainingPerm.SYNC)
@require_POST
def sync(request: HttpRequest) -> HttpResponse:
    try:
        created = services.sync_assignments(actor=page_user(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Assignments brought up to date: {len(created)} new.")
    return redirect("training:matrix")


# --- overview -------------------------------------------------------------------------------
@needs(TrainingPerm.OVERSEE)
def matrix(request: HttpRequest) -> HttpResponse:
    """Who is missing what, and what is overdue."""
    form = MatrixFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    status = 400 if form.is_bound and form.errors else 200
    at = now()
    rows = selectors.matrix(at=at, **filters) if status == 200 else []
    return render(
        request,
        "training/matrix.html",
        {
            "form": form,
            "rows": rows,
            "overdue": list(selectors.assignments(overdue=True, at=at, site=filters.get("site"))),
            "at": at,
            "can_sync": has_perm(page_user(request), TrainingPerm.SYNC),
        },
        status=status,
    )


# --- curricula ------------------------------------------------------------------------------
@needs(TrainingPerm.OVERSEE)
def curriculum_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "training/curriculum_list.html",
        {
            "curricula": [(c, selectors.curriculum_items(c)) for c in selectors.curricula()],
            "can_manage": has_perm(page_user(request), TrainingPerm.MANAGE),
        },
    )


@needs(TrainingPerm.MANAGE)
@require_http_methods(["GET", "POST"])
def curriculum_create(request: HttpRequest) -> HttpResponse:
    form = CurriculumForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            curriculum = services.create_curriculum(
                actor=page_user(request),
                role=data["role"],
                name=data["name"],
                description=data["description"],
                site_id=data["site"].pk if data["site"] else None,
            )
        except DomainError as exc:
            _refuse(form, exc)
        else:
            messages.success(request, f"Curriculum {curriculum.name} created.")
            return redirect("training:curriculum_detail", curriculum_id=curriculum.pk)
    return _render(request, "training/form.html", {"form": form, "title": "New curriculum"}, form)


def _curriculum_page(
    request: HttpRequest,
    curriculum: Curriculum,
    document_form: AddDocumentForm | None = None,
    qualification_form: AddQualificationForm | None = None,
) -> HttpResponse:
    can_manage = has_perm(page_user(request), TrainingPerm.MANAGE, curriculum.site)
    failed = document_form if document_form is not None else qualification_form
    items = selectors.curriculum_items(curriculum, include_removed=True)
    listed = frozenset(i.requirement for i in items if i.is_active)
    return _render(
        request,
        "training/curriculum_detail.html",
        {
            "curriculum": curriculum,
            "items": items,
            "can_manage": can_manage,
            "document_form": document_form
            or (AddDocumentForm(listed=listed) if can_manage else None),
            "qualification_form": qualification_form
            or (AddQualificationForm(listed=listed) if can_manage else None),
            **_record_context(curriculum),
        },
        failed,
    )


@needs(TrainingPerm.OVERSEE)
def curriculum_detail(request: HttpRequest, curriculum_id: int) -> HttpResponse:
    return _curriculum_page(request, get_object_or_404(selectors.curricula(), pk=curriculum_id))


@needs(TrainingPerm.MANAGE)
@require_POST
def curriculum_add_document(request: HttpRequest, curriculum_id: int) -> HttpResponse:
    curriculum = get_object_or_404(selectors.curricula(), pk=curriculum_id)
    form = AddDocumentForm(request.POST)
    if form.is_valid():
        try:
            _, created = services.add_curriculum_document(
                actor=page_user(request), curriculum_id=curriculum.pk, **form.cleaned_data
            )
        except DomainError as exc:
            _refuse(form, exc)
        else:
            messages.success(
                request,
                f"{form.cleaned_data['document_number']} added; {len(created)} assigned.",
            )
            return redirect("training:curriculum_detail", curriculum_id=curriculum.pk)
    return _curriculum_page(request, curriculum, document_form=form)


@needs(TrainingPerm.MANAGE)
@require_POST
def curriculum_add_qualification(request: HttpRequest, curriculum_id: int) -> HttpResponse:
    curriculum = get_object_or_404(selectors.curricula(), pk=curriculum_id)
    form = AddQualificationForm(request.POST)
    if form.is_valid():
        try:
            services.add_curriculum_qualification(
                actor=page_user(request), curriculum_id=curriculum.pk, **form.cleaned_data
            )
        except DomainError as exc:
            _refuse(form, exc)
        else:
            messages.success(request, f"{form.cleaned_data['qualification_code']} added.")
            return redirect("training:curriculum_detail", curriculum_id=curriculum.pk)
    return _curriculum_page(request, curriculum, qualification_form=form)


@needs(TrainingPerm.MANAGE)
@require_http_methods(["GET", "POST"])
def curriculum_item_remove(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(CurriculumItem.objects.select_related("curriculum"), pk=item_id)
    return _action(
        request,
        ReasonForm(request.POST or None),
        lambda data: services.remove_curriculum_item(
            actor=page_user(request), item_id=item.pk, reason=data["reason"]
        ),
        title=f"Remove {item.requirement} from {item.curriculum.name}",
        success=reverse("training:curriculum_detail", args=[item.curriculum_id]),
        done=f"{item.requirement} removed.",
    )


# --- qualification types --------------------------------------------------------------------
@needs(TrainingPerm.OVERSEE)
def type_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "training/type_list.html",
        {
            "types": selectors.qualification_types(),
            "can_manage": has_perm(page_user(request), TrainingPerm.MANAGE),
        },
    )


@needs(TrainingPerm.MANAGE)
@require_http_methods(["GET", "POST"])
def type_create(request: HttpRequest) -> HttpResponse:
    return _action(
        request,
        QualificationTypeForm(request.POST or None),
        lambda data: services.create_qualification_type(actor=page_user(request), **data),
        title="New qualification type",
        success=reverse("training:type_list"),
        done=lambda kind: f"Qualification type {kind.code} created.",
    )


@needs(TrainingPerm.MANAGE)
@require_http_methods(["GET", "POST"])
def type_edit(request: HttpRequest, code: str) -> HttpResponse:
    kind = get_object_or_404(QualificationType, code=code)
    initial = {f: getattr(kind, f) for f in (*QualificationType.RECORD_FIELDS, "is_active")}

    def correct(data: dict[str, Any]) -> object:
        fields = {k: v for k, v in data.items() if k not in ("reason", "code")}
        changed = {k: v for k, v in fields.items() if v != initial.get(k)}
        return services.update_qualification_type(
            actor=page_user(request), code=kind.code, reason=data["reason"], **changed
        )

    return _action(
        request,
        QualificationTypeEditForm(request.POST or None, initial=initial),
        correct,
        title=f"Correct {kind.code}",
        success=reverse("training:type_list"),
        done=f"Qualification type {kind.code} corrected.",
    )


# --- qualifications -------------------------------------------------------------------------
@needs(TrainingPerm.OVERSEE)
def qualification_list(request: HttpRequest) -> HttpResponse:
    filterset, found, status = page_filter(
        request, QualificationFilterSet, selectors.qualifications()
    )
    at = now()
    rows = list(found[:500]) if status == 200 else []
    return render(
        request,
        "training/qualification_list.html",
        {
            "form": filterset.form,
            "rows": [(q, q.state_at(at)) for q in rows],
            "can_grant": has_perm(page_user(request), TrainingPerm.QUALIFY),
        },
        status=status,
    )


@needs(TrainingPerm.QUALIFY)
@require_http_methods(["GET", "POST"])
def qualification_grant(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {"site": getattr(request, "site", None)}
    for key in ("user", "qualification_code"):
        if request.GET.get(key):
            initial[key] = request.GET[key]
    form = GrantQualificationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            granted = services.grant_qualification(
                actor=page_user(request),
                user_id=data["user"].pk,
                qualification_code=data["qualification_code"],
                site_id=data["site"].pk,
                note=data["note"],
                password=data["password"],
                request=request,
            )
        except DomainError as exc:
            _refuse(form, exc)
        else:
            messages.success(
                request, f"{granted.qualification_type.name} granted to {granted.user}."
            )
            return redirect("training:qualification_detail", qualification_id=granted.pk)
    return _render(
        request,
        "training/form.html",
        {
            "form": form,
            "title": "Grant a qualification",
            "submit": "Sign and grant",
            "signing": True,
        },
        form,
    )


@login_required
def qualification_detail(request: HttpRequest, qualification_id: int) -> HttpResponse:
    q = get_object_or_404(selectors.qualifications(), pk=qualification_id)
    me = page_user(request)
    if q.user_id != me.pk and not has_perm(me, TrainingPerm.OVERSEE):
        return render(request, "core/forbidden.html", {"perm": TrainingPerm.OVERSEE}, status=403)
    at = now()
    return render(
        request,
        "training/qualification_detail.html",
        {
            "q": q,
            "state": q.state_at(at),
            "can_revoke": q.status == "active" and has_perm(me, TrainingPerm.QUALIFY, q.site),
            **_record_context(q),
        },
    )


@needs(TrainingPerm.QUALIFY)
@require_http_methods(["GET", "POST"])
def qualification_revoke(request: HttpRequest, qualification_id: int) -> HttpResponse:
    q = get_object_or_404(Qualification, pk=qualification_id)
    return _action(
        request,
        ReasonForm(request.POST or None),
        lambda data: services.revoke_qualification(
            actor=page_user(request), qualification_id=q.pk, reason=data["reason"]
        ),
        title=f"Revoke {q}",
        success=reverse("training:qualification_detail", args=[q.pk]),
        done=f"{q} revoked.",
    )
