"""Personal API tokens for machines: shown once, stored as SHA-256, revocable, scoped, expiring.

A token acts for its user only while that user could log in: a revoked or expired token, or one
whose account is inactive or locked out (django-axes), is refused with 401; a "read" token is
refused (403) on anything but GET and HEAD.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from axes.handlers.proxy import AxesProxyHandler
from django.db import transaction
from django.http import HttpRequest

from .. import audit
from ..errors import Conflict, NotAuthenticated, NotFound, PermissionRefused, ValidationFailed
from ..models import ApiToken, User
from ..permissions import Perm, has_perm
from ..time import now
from . import _validate

TOKEN_PREFIX = "v2v"  # noqa: S105 - a label, not a secret
_PREFIX_RE = re.compile(r"[0-9a-f]{8}")

SCOPE_READ = "read"
SCOPE_READ_WRITE = "read_write"
SCOPES = (SCOPE_READ, SCOPE_READ_WRITE)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_EXPIRY_DAYS = 90
MAX_EXPIRY_DAYS = 365


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _stand_in_request() -> HttpRequest:
    """Lockout is looked up by username (settings.AXES_LOCKOUT_PARAMETERS); axes still wants a
    request to read, so outside the web one stands in."""
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = "127.0.0.1"
    request.META["HTTP_USER_AGENT"] = "vein2vein-service"
    request.path = "/api/v1/"
    request.method = "GET"
    return request


def is_locked_out(user: User, request: HttpRequest | None = None) -> bool:
    """The account is locked after repeated failed logins or signature passwords."""
    req = request if request is not None else _stand_in_request()
    return bool(AxesProxyHandler.is_locked(req, {"username": user.get_username()}))


def _expiry_days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(
            f"expires_in_days must be a whole number of days, not {value!r}",
            field="expires_in_days",
        )
    if not 1 <= value <= MAX_EXPIRY_DAYS:
        raise ValidationFailed(
            f"expires_in_days must be from 1 to {MAX_EXPIRY_DAYS}, not {value}",
            field="expires_in_days",
        )
    return value


def create_api_token(
    *,
    actor: User | None,
    user: User,
    name: str,
    scope: str = SCOPE_READ_WRITE,
    expires_in_days: object = DEFAULT_EXPIRY_DAYS,
) -> tuple[ApiToken, str]:
    """A token acting with `user`'s roles. Only the user (or the server console, actor=None)
    may create one: an administrator who could mint tokens for others could act as them.
    Every token expires (at most a year): a forgotten one on a decommissioned instrument
    stops working by itself. The API refuses to mint a token with a token (core/api.py)."""
    if actor is not None and actor.pk != user.pk:
        raise PermissionRefused("a token can only be created by its own user", field="user")
    label = _validate.text(name, "name", max_length=100)
    token_scope = _validate.choice(scope, "scope", SCOPES)
    days = _expiry_days(expires_in_days)
    if not user.is_active:
        raise ValidationFailed(f"user {user.username} is inactive", field="user")
    if is_locked_out(user):
        raise PermissionRefused(
            f"user {user.username} is locked after repeated failures; ask an administrator",
            field="user",
        )
    created_at = now()
    expires_at = created_at + dt.timedelta(days=days)
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    raw = f"{TOKEN_PREFIX}_{prefix}_{secret}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=label,
            prefix=prefix,
            key_hash=hash_secret(raw),
            created_at=created_at,
            scope=token_scope,
            expires_at=expires_at,
        )
        audit.append_event(
            actor=actor,
            action="api_token.created",
            record=token,
            changes=audit.created(
                {
                    "user": user.pk,
                    "name": label,
                    "prefix": prefix,
                    "scope": token_scope,
                    "expires_at": expires_at,
                }
            ),
        )
    return token, raw


def revoke_api_token(*, actor: User | None, prefix: str, reason: str) -> ApiToken:
    why = _validate.reason(reason)
    if not _PREFIX_RE.fullmatch(prefix):
        raise NotFound(f"no token with prefix {prefix!r}", field="prefix")
    with transaction.atomic():
        token = (
            ApiToken.objects.select_for_update(no_key=True, of=("self",))
            .filter(prefix=prefix)
            .first()
        )
        if token is None:
            raise NotFound(f"no token with prefix {prefix}", field="prefix")
        if (
            actor is not None
            and actor.pk != token.user_id
            and not has_perm(actor, Perm.USER_MANAGE)
        ):
            raise PermissionRefused("only the token's user or an administrator may revoke it")
        if token.revoked_at is not None:
            raise Conflict(f"token {prefix} is already revoked", field="prefix")
        token.revoked_at = now()
        token.save(update_fields=["revoked_at"])
        audit.append_event(
            actor=actor,
            action="api_token.revoked",
            record=token,
            changes={"revoked_at": {"old": None, "new": token.revoked_at}},
            reason=why,
        )
    return token


def authenticate_token(
    raw: str, *, method: str = "GET", request: HttpRequest | None = None
) -> ApiToken:
    """The token presented for a request of `method`, or a refusal saying why: 401 for a token
    that is unknown, revoked, expired, or whose account is inactive or locked; 403 for a "read"
    token on a write. The secret is checked first, so only its holder learns the token's state.
    Not a GMP write (last_used_at only): no audit event."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not _PREFIX_RE.fullmatch(parts[1]):
        raise NotAuthenticated("the API token is not valid", field="authorization")
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.key_hash, hash_secret(raw)):
        raise NotAuthenticated("the API token is not valid", field="authorization")
    if token.revoked_at is not None:
        raise NotAuthenticated(f"API token {token.prefix} is revoked", field="authorization")
    moment = now()
    if token.expires_at is not None and token.expires_at <= moment:
        raise NotAuthenticated(
            f"API token {token.prefix} expired at {token.expires_at:%Y-%m-%d %H:%M} UTC; "
            "create a new one",
            field="authorization",
        )
    if not token.user.is_active:
        raise NotAuthenticated(
            f"API token {token.prefix}: the account {token.user.username} is inactive",
            field="authorization",
        )
    if is_locked_out(token.user, request):
        raise NotAuthenticated(
            f"API token {token.prefix}: the account {token.user.username} is locked after "
            "repeated failures; ask an administrator",
            field="authorization",
        )
    if token.scope != SCOPE_READ_WRITE and method.upper() not in SAFE_METHODS:
        raise PermissionRefused(
            f"API token {token.prefix} has scope {token.scope!r}: it may only read "
            f"(GET, HEAD), not {method.upper()}",
            field="scope",
        )
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=moment)
    return token


def user_for_token(raw: str, *, method: str = "GET") -> User | None:
    """The user a presented token acts for, or None when it is refused for any reason."""
    try:
        return authenticate_token(raw, method=method).user
    except (NotAuthenticated, PermissionRefused):
        return None
