"""Document pages: list, detail, version, the forms for each transition, overdue reviews.
Thin: forms parse, services decide, selectors read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from vein2vein.core.actors import page_user
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import DomainError
from vein2vein.core.forms import ReasonForm, attach_error
from vein2vein.core.models import User
from vein2vein.core.permissions import has_perm
from vein2vein.core.signing import manifestation, signatures_for
from vein2vein.web.actions import form_action
from vein2vein.web.lists import list_page

from . import selectors, services
from .choices import TRANSITIONS, VersionStatus
from .download import pdf_response
from .filters import DocumentFilterSet
from .forms import ConfirmForm, DocumentForm, EditDraftForm, SignForm, VersionForm
from .models import Document, DocumentVersion
from .permissions import DocPerm, can_read_version, can_sign_as
from .services._common import today

View = Callable[..., HttpResponseBase]


def needs(perm: DocPerm) -> Callable[[View], View]:
    """Login, then the permission; otherwise 403 saying which permission is missing."""

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_perm(page_user(request), perm):
                return render(request, "core/forbidden.html", {"perm": perm}, status=403)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _data(request: HttpRequest) -> tuple[Any, Any]:
    """The form's data and files: bound on POST even when the POST is empty."""
    if request.method == "POST":
        return request.POST, request.FILES
    return None, None


def _refused(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return render(request, "core/forbidden.html", {"message": exc.message}, status=exc.status_code)


def _document_or_404(number: str) -> Document:
    document = selectors.get_document(number)
    if document is None:
        raise Http404("no such document")
    return document


def _readable_version(request: HttpRequest, version_id: int) -> DocumentVersion | HttpResponse:
    version = get_object_or_404(
        DocumentVersion.objects.select_related("document", "created_by"), pk=version_id
    )
    if not can_read_version(page_user(request), version):
        return render(request, "core/forbidden.html", {"perm": DocPerm.VIEW_UNRELEASED}, status=403)
    return version


# --- lists ----------------------------------------------------------------------------------
@needs(DocPerm.VIEW)
def index(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    to_review, to_approve = selectors.review_queue(user)
    return list_page(
        request,
        "documents/index.html",
        DocumentFilterSet,
        selectors.visible_documents(user),
        {
            "can_author": has_perm(user, DocPerm.AUTHOR),
            "to_review": to_review,
            "to_approve": to_approve,
            "unreleased": has_perm(user, DocPerm.VIEW_UNRELEASED),
        },
        present=selectors.document_rows,
    )


@needs(DocPerm.VIEW)
def overdue_reviews(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "documents/overdue.html",
        {
            "overdue": selectors.overdue_reviews(),
            "due_soon": selectors.reviews_due_within(60),
            "today": today(),
            "can_review": has_perm(page_user(request), DocPerm.PERIODIC_REVIEW),
        },
    )


# --- document -------------------------------------------------------------------------------
@needs(DocPerm.AUTHOR)
@require_http_methods(["GET", "POST"])
def document_create(request: HttpRequest) -> HttpResponse:
    form = DocumentForm(*_data(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = services.draft_new_document(
                actor=page_user(request),
                kind=data["kind"],
                title=data["title"],
                number=data["number"] or None,
                owner=data["owner"],
                review_period_months=data["review_period_months"],
                change_summary=data["change_summary"],
                effective_date=data["effective_date"],
                file=data["file"],
            )
        except DomainError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, f"{version.document.number} created; {version} is a draft.")
            return redirect("documents:version_detail", version_id=version.pk)
    return _form_page(request, form, "New controlled document", status_ok=True)


@needs(DocPerm.VIEW)
def document_detail(request: HttpRequest, number: str) -> HttpResponse:
    document = _document_or_404(number)
    user = page_user(request)
    effective = selectors.effective_version(document)
    versions = selectors.visible_versions(user, document)
    if not versions:
        return render(request, "core/forbidden.html", {"perm": DocPerm.VIEW_UNRELEASED}, status=403)
    pending = next((v for v in versions if v.status in selectors.IN_FLIGHT), None)
    return render(
        request,
        "documents/detail.html",
        {
            "document": document,
            "effective": effective,
            "versions": versions,
            "can_new_version": has_perm(user, DocPerm.AUTHOR)
            and document.obsoleted_at is None
            and pending is None,
            "can_obsolete": has_perm(user, DocPerm.OBSOLETE) and document.obsoleted_at is None,
            "timeline": selectors.document_timeline(document),
        },
    )


@needs(DocPerm.AUTHOR)
@require_http_methods(["GET", "POST"])
def version_create(request: HttpRequest, number: str) -> HttpResponse:
    document = _document_or_404(number)
    form = VersionForm(*_data(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = services.create_version(
                actor=page_user(request),
                document=document,
                change_summary=data["change_summary"],
                effective_date=data["effective_date"],
                file=data["file"],
            )
        except DomainError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, f"{version} drafted.")
            return redirect("documents:version_detail", version_id=version.pk)
    return _form_page(request, form, f"New version of {document}", document=document)


@needs(DocPerm.OBSOLETE)
@require_http_methods(["GET", "POST"])
def document_obsolete(request: HttpRequest, number: str) -> HttpResponse:
    document = _document_or_404(number)
    form = ReasonForm(_data(request)[0])
    if request.method == "POST" and form.is_valid():
        try:
            services.obsolete_document(
                actor=page_user(request),
                document_id=document.pk,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, f"{document.number} is obsolete.")
            return redirect("documents:document_detail", number=document.number)
    return _form_page(
        request,
        form,
        f"Make {document.number} obsolete",
        document=document,
        intro="Every effective, approved and draft version becomes obsolete; no new version "
        "can be drafted. The history stays readable.",
        submit="Make obsolete",
    )


# --- version --------------------------------------------------------------------------------
def _actions(user: User, version: DocumentVersion) -> dict[str, bool]:
    """Which steps to offer this user (the services decide again when one is taken). A step
    that moves the version is offered only where `choices.TRANSITIONS` allows the move."""
    status = version.status
    moves = TRANSITIONS[VersionStatus(status)]
    kind = version.document.kind
    own = version.created_by_id == user.pk
    reviews = selectors.current_reviews(version) if status == VersionStatus.IN_REVIEW else []
    return {
        "edit": status == VersionStatus.DRAFT and own,
        "submit": VersionStatus.IN_REVIEW in moves and own,
        "return": VersionStatus.DRAFT in moves
        and (own or can_sign_as(user, kind, SignatureMeaning.REVIEWED)),
        "review": VersionStatus.APPROVED in moves
        and not own
        and not reviews
        and can_sign_as(user, kind, SignatureMeaning.REVIEWED),
        "approve": VersionStatus.APPROVED in moves
        and not own
        and any(s.signer_id != user.pk for s in reviews)
        and can_sign_as(user, kind, SignatureMeaning.APPROVED),
        "make_effective": VersionStatus.EFFECTIVE in moves
        and has_perm(user, DocPerm.CONTROL)
        and (version.effective_date is None or version.effective_date <= today()),
        "obsolete": VersionStatus.OBSOLETE in moves
        and ((status == VersionStatus.DRAFT and own) or has_perm(user, DocPerm.OBSOLETE)),
        "periodic_review": status == VersionStatus.EFFECTIVE
        and has_perm(user, DocPerm.PERIODIC_REVIEW),
    }


@needs(DocPerm.VIEW)
def version_detail(request: HttpRequest, version_id: int) -> HttpResponse:
    found = _readable_version(request, version_id)
    if isinstance(found, HttpResponse):
        return found
    version = found
    user = page_user(request)
    if version.status == VersionStatus.APPROVED:
        selectors.activate_due(version.document)
        version.refresh_from_db()
    return render(
        request,
        "documents/version.html",
        {
            "version": version,
            "document": version.document,
            "actions": _actions(user, version),
            "signatures": [manifestation(s, version) for s in signatures_for(version)],
            "periodic_reviews": selectors.periodic_reviews(version),
            "timeline": selectors.version_timeline(version),
        },
    )


@needs(DocPerm.VIEW)
def version_file(request: HttpRequest, version_id: int) -> HttpResponseBase:
    try:
        return pdf_response(page_user(request), version_id)
    except DomainError as exc:
        return _refused(request, exc)


def _form_page(
    request: HttpRequest,
    form: forms.Form,
    title: str,
    *,
    version: DocumentVersion | None = None,
    document: Document | None = None,
    intro: str = "",
    submit: str = "Save",
    status_ok: bool = True,
) -> HttpResponse:
    status = 400 if request.method == "POST" and form.errors else 200
    context = _form_context(form, title, version=version, document=document)
    return render(
        request,
        "documents/form.html",
        {"form": form, **context, "intro": intro, "submit": submit},
        status=status,
    )


def _form_context(
    form: forms.Form,
    title: str,
    *,
    version: DocumentVersion | None = None,
    document: Document | None = None,
) -> dict[str, Any]:
    return {
        "title": title,
        "version": version,
        "document": document or (version.document if version else None),
        "multipart": any(isinstance(f, forms.FileField) for f in form.fields.values()),
    }


Call = Callable[[HttpRequest, DocumentVersion, dict[str, Any]], object]


def _signed(service: Callable[..., object]) -> Call:
    """A step that is the signer's e-signature: password and reason from the SignForm."""
    return lambda r, v, data: service(
        actor=page_user(r),
        version_id=v.pk,
        password=data["password"],
        reason=data["reason"],
        request=r,
    )


def _with_reason(service: Callable[..., object]) -> Call:
    return lambda r, v, data: service(actor=page_user(r), version_id=v.pk, reason=data["reason"])


def _confirmed(service: Callable[..., object]) -> Call:
    return lambda r, v, data: service(actor=page_user(r), version_id=v.pk)


@dataclass(frozen=True)
class VersionStep:
    """One step of a version's workflow, as a page: who may open it, its form, the service
    call, and what the page says ({v} is the version)."""

    perm: str
    form: type[forms.Form]
    call: Call
    title: str
    submit: str
    done: str
    intro: str | Callable[[DocumentVersion], str] = ""


def _version_step(request: HttpRequest, version_id: int, step: VersionStep) -> HttpResponse:
    """GET shows the step's form; POST runs the service; a refusal lands on the form (4xx)."""
    found = _readable_version(request, version_id)
    if isinstance(found, HttpResponse):
        return found
    version = found
    form = step.form(*_data(request))
    return form_action(
        request,
        form,
        lambda data: step.call(request, version, data),
        template="documents/form.html",
        context={
            **_form_context(form, step.title.format(v=version), version=version),
            "intro": step.intro(version) if callable(step.intro) else step.intro,
            "submit": step.submit,
        },
        success=reverse("documents:version_detail", args=[version.pk]),
        done=step.done.format(v=version),
    )


def _approval_intro(version: DocumentVersion) -> str:
    when = (
        f"from {version.effective_date:%Y-%m-%d}"
        if version.effective_date and version.effective_date > today()
        else "at once"
    )
    return (
        "Your signature (meaning: approved) covers the reviewed content. The version becomes "
        f"effective {when}, superseding the current one."
    )


def _edit_draft(request: HttpRequest, v: DocumentVersion, data: dict[str, Any]) -> object:
    fields = {k: data[k] for k in ("change_summary", "effective_date") if data[k] != getattr(v, k)}
    return services.update_draft(
        actor=page_user(request), version_id=v.pk, file=data["file"], **fields
    )


SIGN_REVIEWED = "Sign as reviewed"
VERSION_STEPS = {
    "edit": VersionStep(
        DocPerm.AUTHOR, EditDraftForm, _edit_draft, "Change draft {v}", "Save", "{v} saved."
    ),
    "submit": VersionStep(
        DocPerm.AUTHOR,
        ConfirmForm,
        _confirmed(services.submit_for_review),
        "Submit {v} for review",
        "Submit for review",
        "{v} is in review.",
        "From now on its PDF and content are read-only.",
    ),
    "return": VersionStep(
        DocPerm.AUTHOR,
        ReasonForm,
        _with_reason(services.return_to_draft),
        "Return {v} to draft",
        "Return to draft",
        "{v} is a draft again.",
        "The author can change it and submit it again; it will need a new review.",
    ),
    "review": VersionStep(
        DocPerm.VIEW_UNRELEASED,
        SignForm,
        _signed(services.review_version),
        "Review {v}",
        SIGN_REVIEWED,
        "{v} reviewed.",
        "Your signature (meaning: reviewed) covers the document, version, change summary, PDF "
        "(by its SHA-256) and effective date.",
    ),
    "approve": VersionStep(
        DocPerm.VIEW_UNRELEASED,
        SignForm,
        _signed(services.approve_version),
        "Approve {v}",
        "Sign as approved",
        "{v} approved.",
        _approval_intro,
    ),
    "make_effective": VersionStep(
        DocPerm.CONTROL,
        ConfirmForm,
        _confirmed(services.make_effective),
        "Make {v} effective",
        "Make effective",
        "{v} is effective.",
        "The current effective version, if any, is superseded in the same step.",
    ),
    "obsolete": VersionStep(
        DocPerm.AUTHOR,
        ReasonForm,
        _with_reason(services.obsolete_version),
        "Make {v} obsolete",
        "Make obsolete",
        "{v} is obsolete.",
    ),
    "periodic_review": VersionStep(
        DocPerm.PERIODIC_REVIEW,
        SignForm,
        _signed(services.record_periodic_review),
        "Periodic review of {v}",
        SIGN_REVIEWED,
        "Periodic review of {v} recorded.",
        "You confirm the effective version is still fit for use; the next review falls due "
        "one review period from today.",
    ),
}


def _step_view(name: str) -> Callable[..., HttpResponse]:
    step = VERSION_STEPS[name]

    @needs(step.perm)
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest, version_id: int) -> HttpResponse:
        return _version_step(request, version_id, step)

    view.__name__ = view.__qualname__ = f"version_{name}"
    return view


version_submit = _step_view("submit")
version_return = _step_view("return")
version_review = _step_view("review")
version_approve = _step_view("approve")
version_make_effective = _step_view("make_effective")
version_obsolete = _step_view("obsolete")
version_periodic_review = _step_view("periodic_review")


@needs(DocPerm.AUTHOR)
@require_http_methods(["GET", "POST"])
def version_edit(request: HttpRequest, version_id: int) -> HttpResponse:
    version = get_object_or_404(DocumentVersion, pk=version_id)
    if request.method == "GET":
        initial = {
            "change_summary": version.change_summary,
            "effective_date": version.effective_date,
        }
        return _form_page(
            request, EditDraftForm(initial=initial), f"Change draft {version}", version=version
        )
    return _version_step(request, version_id, VERSION_STEPS["edit"])
