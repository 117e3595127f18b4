"""Core pages: sites, users, audit trail, sign dialog, tokens, password. Thin: forms + services."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from vein2vein.web.actions import button_action, form_action
from vein2vein.web.details import detail_page, history, signature_panel
from vein2vein.web.lists import list_page

from . import selectors, services
from .actors import page_user
from .audit import verify_chain
from .errors import DomainError
from .filters import AuditEventFilterSet
from .forms import (
    GrantForm,
    PasswordChangeForm,
    ReasonForm,
    SignForm,
    SiteEditForm,
    SiteForm,
    TokenForm,
    UserForm,
    attach_error,
)
from .middleware import SESSION_SITE_KEY
from .models import RoleAssignment, Site, User
from .permissions import Perm, has_perm
from .signing import resolve_signable

View = Callable[..., HttpResponse]


def needs(perm: str) -> Callable[[View], View]:
    """Login, then the permission; a page the user may not see answers 403 and says why."""

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_perm(request.user, perm):  # type: ignore[arg-type]
                return render(request, "core/forbidden.html", {"perm": perm}, status=403)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# --- sites ----------------------------------------------------------------------------------
@needs(Perm.RECORD_VIEW)
def site_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/site_list.html",
        {"sites": selectors.sites(), "can_manage": has_perm(page_user(request), Perm.SITE_MANAGE)},
    )


@needs(Perm.SITE_MANAGE)
@require_http_methods(["GET", "POST"])
def site_create(request: HttpRequest) -> HttpResponse:
    return form_action(
        request,
        SiteForm(request.POST or None),
        lambda data: services.create_site(actor=page_user(request), **data),
        template="core/site_form.html",
        context={"title": "New site"},
        success=lambda site: reverse("core:site_detail", args=[site.pk]),
        done=lambda site: f"Site {site.code} created.",
    )


@needs(Perm.RECORD_VIEW)
def site_detail(request: HttpRequest, site_id: int) -> HttpResponse:
    site = get_object_or_404(Site, pk=site_id)
    return detail_page(
        request,
        "core/site_detail.html",
        {"site": site, "can_manage": has_perm(page_user(request), Perm.SITE_MANAGE)},
        record=site,
        events=True,
        signatures=True,
    )


@needs(Perm.SITE_MANAGE)
@require_http_methods(["GET", "POST"])
def site_edit(request: HttpRequest, site_id: int) -> HttpResponse:
    site = get_object_or_404(Site, pk=site_id)
    initial = {f: getattr(site, f) for f in Site.RECORD_FIELDS}

    def correct(data: dict[str, Any]) -> Site:
        fields = {k: v for k, v in data.items() if k not in ("reason", "code")}
        changed = {k: v for k, v in fields.items() if v != initial.get(k)}
        return services.update_site(
            actor=page_user(request), site_id=site.pk, reason=data["reason"], **changed
        )

    return form_action(
        request,
        SiteEditForm(request.POST or None, initial=initial),
        correct,
        template="core/site_form.html",
        context={"title": f"Correct {site.code}", "site": site},
        success=reverse("core:site_detail", args=[site.pk]),
        done=f"Site {site.code} corrected.",
    )


@needs(Perm.SITE_MANAGE)
@require_http_methods(["GET", "POST"])
def site_toggle_active(request: HttpRequest, site_id: int) -> HttpResponse:
    site = get_object_or_404(Site, pk=site_id)
    service = services.reactivate_site if not site.is_active else services.deactivate_site
    verb = "Reactivate" if not site.is_active else "Deactivate"
    return form_action(
        request,
        ReasonForm(request.POST or None),
        lambda data: service(actor=page_user(request), site_id=site.pk, reason=data["reason"]),
        template="core/reason_form.html",
        context={"title": f"{verb} {site.code}", "site": site},
        success=reverse("core:site_detail", args=[site.pk]),
    )


@login_required
@require_POST
def switch_site(request: HttpRequest) -> HttpResponse:
    site_id = request.POST.get("site_id", "")
    if (
        site_id.isdigit()
        and selectors.user_sites(page_user(request)).filter(pk=int(site_id)).exists()
    ):
        request.session[SESSION_SITE_KEY] = int(site_id)
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)


# --- users ----------------------------------------------------------------------------------
@needs(Perm.RECORD_VIEW)
def user_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/user_list.html",
        {"users": selectors.users(), "can_manage": has_perm(page_user(request), Perm.USER_MANAGE)},
    )


@needs(Perm.USER_MANAGE)
@require_http_methods(["GET", "POST"])
def user_create(request: HttpRequest) -> HttpResponse:
    return form_action(
        request,
        UserForm(request.POST or None),
        lambda data: services.create_user(actor=page_user(request), **data),
        template="core/user_form.html",
        context={"title": "New user"},
        success=lambda user: reverse("core:user_detail", args=[user.pk]),
        done=lambda user: f"User {user.username} created.",
    )


@needs(Perm.RECORD_VIEW)
@require_http_methods(["GET", "POST"])
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User, pk=user_id)
    can_manage = has_perm(page_user(request), Perm.USER_MANAGE)
    grant_form = GrantForm(request.POST or None) if can_manage else None
    if request.method == "POST":
        if grant_form is None:
            return render(request, "core/forbidden.html", {"perm": Perm.USER_MANAGE}, status=403)
        if grant_form.is_valid():
            try:
                services.grant_role(
                    actor=page_user(request),
                    user_id=person.pk,
                    site_id=grant_form.cleaned_data["site"].pk,
                    role=grant_form.cleaned_data["role"],
                )
            except DomainError as exc:
                attach_error(grant_form, exc)
            else:
                messages.success(request, "Role granted.")
                return redirect("core:user_detail", user_id=person.pk)
    return render(
        request,
        "core/user_detail.html",
        {
            "person": person,
            "assignments": person.role_assignments.select_related("site", "granted_by"),
            "can_manage": can_manage,
            "grant_form": grant_form,
            "events": history(person),
        },
    )


@needs(Perm.USER_MANAGE)
@require_http_methods(["GET", "POST"])
def role_revoke(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(RoleAssignment, pk=assignment_id)
    return form_action(
        request,
        ReasonForm(request.POST or None),
        lambda data: services.revoke_role(
            actor=page_user(request), assignment_id=assignment.pk, reason=data["reason"]
        ),
        template="core/reason_form.html",
        context={"title": f"Revoke {assignment}"},
        success=reverse("core:user_detail", args=[assignment.user_id]),
    )


# --- audit trail ----------------------------------------------------------------------------
@needs(Perm.AUDIT_VIEW)
def audit_trail(request: HttpRequest) -> HttpResponse:
    return list_page(
        request, "core/audit_trail.html", AuditEventFilterSet, selectors.audit_events()
    )


@needs(Perm.AUDIT_VIEW)
def audit_verify(request: HttpRequest) -> HttpResponse:
    return render(request, "core/audit_verify.html", {"result": verify_chain()})


# --- signatures -----------------------------------------------------------------------------
def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return default
    return target


@needs(Perm.RECORD_VIEW)
@require_http_methods(["GET", "POST"])
def sign(request: HttpRequest) -> HttpResponse:
    """The sign dialog: password re-entry and meaning; on success, the refreshed signatures."""
    source = request.POST if request.method == "POST" else request.GET
    form = SignForm(source if request.method == "POST" else None, initial=source.dict())
    record = None
    try:
        record = resolve_signable(source.get("record_type", ""), source.get("record_id", ""))
    except DomainError as exc:
        return render(
            request, "core/forbidden.html", {"message": exc.message}, status=exc.status_code
        )
    next_url = _back(request, "/")
    if request.method == "POST" and form.is_valid():
        try:
            services.sign_record(
                actor=page_user(request),
                record=record,
                meaning=form.cleaned_data["meaning"],
                password=form.cleaned_data["password"],
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except DomainError as exc:
            attach_error(form, exc)
        else:
            if request.htmx:  # type: ignore[attr-defined]
                return render(request, "core/_signatures.html", signature_panel(record))
            messages.success(request, "Signed.")
            return redirect(next_url)
    response = render(
        request,
        "core/_sign_dialog.html" if request.htmx else "core/sign_page.html",  # type: ignore[attr-defined]
        {"form": form, "record": record, "next": next_url},
        status=200 if request.method == "GET" or not form.errors else 400,
    )
    if request.htmx and request.method == "POST":  # type: ignore[attr-defined]
        # Errors stay in the dialog; htmx swaps 4xx responses only when told where. Swap the
        # slot's content (the form's own hx-swap is outerHTML, which would replace the slot).
        response.status_code = 200
        response = reswap(retarget(response, "#sign-dialog-slot"), "innerHTML")
    return response


# --- my account -----------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def my_tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_token = services.create_api_token(
                actor=page_user(request), user=page_user(request), name=form.cleaned_data["name"]
            )
        except DomainError as exc:
            attach_error(form, exc)
    return render(
        request,
        "core/my_tokens.html",
        {"form": form, "tokens": selectors.api_tokens(page_user(request)), "new_token": new_token},
    )


@login_required
@require_POST
def my_token_revoke(request: HttpRequest, prefix: str) -> HttpResponse:
    return button_action(
        request,
        lambda: services.revoke_api_token(
            actor=page_user(request),
            prefix=prefix,
            reason=request.POST.get("reason") or "revoked by its user",
        ),
        success=reverse("core:my_tokens"),
    )


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.change_own_password(
                actor=page_user(request),
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except DomainError as exc:
            attach_error(form, exc)
        else:
            update_session_auth_hash(request, user)
            messages.success(request, "Password changed.")
            return redirect("web:dashboard")
    return render(request, "core/password_change.html", {"form": form})
