"""Core pages: sites, users, audit trail, sign dialog, tokens, password. Thin: forms + services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from . import selectors, services
from .actors import page_user
from .audit import verify_chain
from .errors import DomainError
from .forms import (
    AuditFilterForm,
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
from .pagination import pager_query, web_page
from .permissions import Perm, has_perm
from .signing import manifestation, resolve_signable, signatures_for

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
    form = SiteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            site = services.create_site(actor=page_user(request), **form.cleaned_data)
        except DomainError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, f"Site {site.code} created.")
            return redirect("core:site_detail", site_id=site.pk)
    return render(request, "core/site_form.html", {"form": form, "title": "New site"})


@needs(Perm.RECORD_VIEW)
def site_detail(request: HttpRequest, site_id: int) -> HttpResponse:
    site = get_object_or_404(Site, pk=site_id)
    return render(
        request,
        "core/site_detail.html",
        {
            "site": site,
            "can_manage": has_perm(page_user(request), Perm.SITE_MANAGE),
            "events": selectors.audit_events(record_type="core.site", record_id=str(site.pk))[:50],
            **_signature_panel(request, site),
        },
    )


@needs(Perm.SITE_MANAGE)
@require_http_methods(["GET", "POST"])
def site_edit(request: HttpRequest, site_id: int) -> HttpResponse:
    site = get_object_or_404(Site, pk=site_id)
    initial = {f: getattr(site, f) for f in Site.RECORD_FIELDS}
    form = SiteEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        reason = data.pop("reason")
        data.pop("code", None)
        changed = {k: v for k, v in data.items() if v != initial.get(k)}
        try:
            services.update_site(
                actor=page_user(request), site_id=site.pk, reason=reason, **changed
            )
        except DomainError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, f"Site {site.code} corrected.")
            return redirect("core:site_detail", site_id=site.pk)
    return render(
        request,
        "core/site_form.html",
        {"form": form, "title": f"Correct {site.code}", "site": site},
    )


@needs(Perm.SITE_MANAGE)
@require_http_methods(["GET", "POST"])
def site_toggle_active(request: HttpRequest, site_id: int) -> HttpResponse:
    site = get_object_or_404(Site, pk=site_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        service = services.reactivate_site if not site.is_active else services.deactivate_site
        try:
            service(actor=page_user(request), site_id=site.pk, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            attach_error(form, exc)
        else:
            return redirect("core:site_detail", site_id=site.pk)
    verb = "Reactivate" if not site.is_active else "Deactivate"
    return render(
        request,
        "core/reason_form.html",
        {"form": form, "title": f"{verb} {site.code}", "site": site},
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
    form = UserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.create_user(actor=page_user(request), **form.cleaned_data)
        except DomainError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, f"User {user.username} created.")
            return redirect("core:user_detail", user_id=user.pk)
    return render(request, "core/user_form.html", {"form": form, "title": "New user"})


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
            "events": selectors.audit_events(record_type="core.user", record_id=str(person.pk))[
                :50
            ],
        },
    )


@needs(Perm.USER_MANAGE)
@require_http_methods(["GET", "POST"])
def role_revoke(request: HttpRequest, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(RoleAssignment, pk=assignment_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.revoke_role(
                actor=page_user(request),
                assignment_id=assignment.pk,
                reason=form.cleaned_data["reason"],
            )
        except DomainError as exc:
            attach_error(form, exc)
        else:
            return redirect("core:user_detail", user_id=assignment.user_id)
    return render(request, "core/reason_form.html", {"form": form, "title": f"Revoke {assignment}"})


# --- audit trail ----------------------------------------------------------------------------
def _midnight(day: dt.date, zone: dt.tzinfo, days_after: int = 0) -> dt.datetime | None:
    """Midnight starting `day` (+ days_after) in `zone`, in UTC; None (no bound) past the ends
    of the calendar, e.g. 'until 9999-12-31', which would otherwise overflow into a 500."""
    try:
        return dt.datetime.combine(
            day + dt.timedelta(days=days_after), dt.time.min, zone
        ).astimezone(dt.UTC)
    except OverflowError:
        return None


@needs(Perm.AUDIT_VIEW)
def audit_trail(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        zone = ZoneInfo(request.site.time_zone) if getattr(request, "site", None) else dt.UTC  # type: ignore[attr-defined]
        filters = {k: data[k] or None for k in ("record_type", "record_id", "actor", "action")}
        if data["since"]:
            filters["since"] = _midnight(data["since"], zone)
        if data["until"]:
            filters["until"] = _midnight(data["until"], zone, days_after=1)
    page = web_page(request, selectors.audit_events(**filters))
    return render(
        request,
        "core/audit_trail.html",
        {"form": form, "page": page, "query": pager_query(request)},
    )


@needs(Perm.AUDIT_VIEW)
def audit_verify(request: HttpRequest) -> HttpResponse:
    return render(request, "core/audit_verify.html", {"result": verify_chain()})


# --- signatures -----------------------------------------------------------------------------
def _signature_panel(request: HttpRequest, record: Any) -> dict[str, Any]:
    record_type = f"{record._meta.app_label}.{record._meta.model_name}"
    return {
        "signatures": [manifestation(s, record) for s in signatures_for(record)],
        "sign_record_type": record_type,
        "sign_record_id": str(record.pk),
    }


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
                return render(request, "core/_signatures.html", _signature_panel(request, record))
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
    try:
        services.revoke_api_token(
            actor=page_user(request),
            prefix=prefix,
            reason=request.POST.get("reason") or "revoked by its user",
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("core:my_tokens"))


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
