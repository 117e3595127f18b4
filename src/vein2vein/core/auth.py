"""API authentication: personal tokens for machines, the session for the browser."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from .models import ApiToken, User
from .services.tokens import authenticate_token


class TokenAuth(HttpBearer):
    """`Authorization: Bearer v2v_<prefix>_<secret>`; acts with the token user's roles.

    A presented token that is refused answers with the reason (401, or 403 for a "read" token
    on a write) rather than falling through to the session: the caller chose this credential.
    """

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        api_token = authenticate_token(token, method=request.method or "GET", request=request)
        request.api_token = api_token  # type: ignore[attr-defined]
        return api_token.user


def token_of(request: HttpRequest) -> ApiToken | None:
    """The API token the request authenticated with, or None (browser session)."""
    return getattr(request, "api_token", None)
