"""Personal API tokens for machines: shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.db import transaction

from .. import audit
from ..errors import Conflict, NotFound, PermissionRefused, ValidationFailed
from ..models import ApiToken, User
from ..permissions import Perm, has_perm
from ..time import now
from . import _validate

TOKEN_PREFIX = "v2v"  # noqa: S105 - a label, not a secret
_PREFIX_RE = re.compile(r"[0-9a-f]{8}")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(*, actor: User | None, user: User, name: str) -> tuple[ApiToken, str]:
    """A token acting with `user`'s roles. Only the user (or the server console, actor=None)
    may create one: an administrator who could mint tokens for others could act as them."""
    if actor is not None and actor.pk != user.pk:
        raise PermissionRefused("a token can only be created by its own user", field="user")
    label = _validate.text(name, "name", max_length=100)
    if not user.is_active:
        raise ValidationFailed(f"user {user.username} is inactive", field="user")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    raw = f"{TOKEN_PREFIX}_{prefix}_{secret}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=label, prefix=prefix, key_hash=hash_secret(raw), created_at=now()
        )
        audit.append_event(
            actor=actor,
            action="api_token.created",
            record=token,
            changes=audit.created({"user": user.pk, "name": label, "prefix": prefix}),
        )
    return token, raw


def revoke_api_token(*, actor: User | None, prefix: str, reason: str) -> ApiToken:
    why = _validate.reason(reason)
    if not _PREFIX_RE.fullmatch(prefix):
        raise NotFound(f"no token with prefix {prefix!r}", field="prefix")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(prefix=prefix).first()
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


def user_for_token(raw: str) -> User | None:
    """The active user a presented token acts for, or None. Not a GMP write: no audit."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not _PREFIX_RE.fullmatch(parts[1]):
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[1]).first()
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    if not hmac.compare_digest(token.key_hash, hash_secret(raw)):
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now())
    return token.user
