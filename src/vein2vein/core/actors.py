"""Who is acting, read from the request in one place for every app's pages and API routes.

Pages run behind the login middleware, so `request.user` is a signed-in User. API routes run
behind `core.api`'s authentication (session or a token, locked accounts and expired tokens
already refused), which puts the caller in `request.auth`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from .models import User


def page_user(request: HttpRequest) -> User:
    """The signed-in user of a page request."""
    return request.user  # type: ignore[return-value]


def api_user(request: HttpRequest) -> User:
    """The authenticated caller of an API route."""
    return request.auth  # type: ignore[attr-defined, no-any-return]
