"""Per-request context: the user's current site, shown in its own time zone."""

from __future__ import annotations

import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone

from .permissions import roles_read_once
from .selectors import current_site_for

SESSION_SITE_KEY = "vein2vein_site_id"
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


REFRESHED_KEY = "vein2vein_refreshed_at"


class IdleTimeoutMiddleware:
    """The idle timeout without a session write per request: the session (and so its expiry,
    SESSION_COOKIE_AGE from its last save) is saved again only when its last refresh is a tenth
    of the timeout old (60 s of 15 min). A session therefore ends at most 60 s *before* the
    configured idle time after the last request, never after it, and a page within the minute
    is spared the session UPDATE with its savepoint and release (3 queries)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and not session.is_empty():
            at = int(time.time())
            refreshed = session.get(REFRESHED_KEY)
            if not isinstance(refreshed, int) or at - refreshed >= refresh_seconds():
                session[REFRESHED_KEY] = at  # marks the session modified: saved, expiry moved
        return response


def refresh_seconds() -> int:
    return min(60, int(settings.SESSION_COOKIE_AGE) // 10)


class RolesReadOnceMiddleware:
    """A read-only request reads each user's role assignments once (permissions.held_assignments)
    instead of once per permission check; a write request reads them afresh at every check."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in READ_ONLY_METHODS:
            return self.get_response(request)
        with roles_read_once():
            return self.get_response(request)


class CurrentSiteMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        site = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            site = current_site_for(user, request.session.get(SESSION_SITE_KEY))
        request.site = site  # type: ignore[attr-defined]
        if site is not None:
            timezone.activate(ZoneInfo(site.time_zone))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class PasswordChangeRequiredMiddleware:
    """A user whose password was set by someone else chooses their own before anything else."""

    ALLOWED_PREFIXES = ("/accounts/", "/static/", "/api/", "/health/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and getattr(user, "must_change_password", False)
            and not request.path.startswith(self.ALLOWED_PREFIXES)
        ):
            return redirect("core:password_change")
        return self.get_response(request)


class RejectNulMiddleware:
    """A NUL character is never valid input here, and PostgreSQL cannot store or even compare
    one (a lookup with it raises). Refuse such a path or query string with a 400 up front,
    naming the query parameter when there is one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        nul = chr(0)
        field = next(
            (
                key
                for key, values in request.GET.lists()
                if nul in key or any(nul in v for v in values)
            ),
            None,
        )
        if field is not None or nul in request.path:
            name = field.replace(nul, "") if field is not None else None
            message = f"{name or 'the address'} must not contain a NUL character"
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message, "field": name}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain")
        return self.get_response(request)
