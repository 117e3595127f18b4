"""API authentication: personal tokens for machines, the session for the browser."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from .models import User
from .services.tokens import user_for_token


class TokenAuth(HttpBearer):
    """`Authorization: Bearer v2v_<prefix>_<secret>`; acts with the token user's roles."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        return user_for_token(token)
