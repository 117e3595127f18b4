"""Users and their roles. Administrators manage people; they never hold a GMP role themselves."""

from __future__ import annotations

import re
from typing import Any

from axes.utils import reset as axes_reset
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from .. import audit
from ..choices import Role
from ..errors import Conflict, NotFound, PermissionRefused, ValidationFailed
from ..models import RoleAssignment, Site, User
from ..permissions import GMP_ROLES, Perm, require
from ..time import now
from . import _validate

_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,149}$")
EDITABLE_FIELDS = ("full_name", "email")


def _password(value: object, user: User | None = None, field: str = "password") -> str:
    if not isinstance(value, str) or not value:
        raise ValidationFailed(f"{field} is required", field=field)
    try:
        validate_password(value, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(f"{field}: {' '.join(exc.messages)}", field=field) from exc
    return value


def _user(user_id: int, *, lock: bool = True) -> User:
    qs = User.objects.select_for_update(no_key=True, of=("self",)) if lock else User.objects.all()
    user = qs.filter(pk=user_id).first()
    if user is None:
        raise NotFound(f"user {user_id} does not exist", field="user_id")
    return user


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "username" in data:
        username = _validate.text(data["username"], "username", max_length=150).lower()
        if not _USERNAME_RE.match(username):
            raise ValidationFailed(
                "username must be 2-150 characters: lower-case letters, digits, '.', '_', '-'",
                field="username",
            )
        out["username"] = username
    if "full_name" in data:
        out["full_name"] = _validate.text(data["full_name"], "full_name", max_length=150)
    if "email" in data:
        email = _validate.text(data["email"], "email", max_length=254, required=False)
        if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            raise ValidationFailed("email is not a valid address", field="email")
        out["email"] = email
    return out


def _create(
    *,
    actor: User | None,
    username: str,
    full_name: str,
    email: str,
    password: str,
    must_change_password: bool = True,
) -> User:
    values = _clean({"username": username, "full_name": full_name, "email": email})
    if User.objects.filter(username=values["username"]).exists():
        raise ValidationFailed(f"username {values['username']} is taken", field="username")
    candidate = User(**values)
    _password(password, candidate)
    user = User.objects.create_user(
        password=password, must_change_password=must_change_password, **values
    )
    audit.append_event(
        actor=actor,
        action="user.created",
        record=user,
        changes=audit.created(audit.snapshot(user, User.RECORD_FIELDS)),
    )
    return user


def bootstrap_admin(
    *, username: str, full_name: str, password: str, site: Site, must_change_password: bool = True
) -> User:
    """The first administrator, made from the server console (actor: system) on an empty system."""
    with transaction.atomic():
        if RoleAssignment.objects.filter(role=Role.ADMIN, revoked_at__isnull=True).exists():
            raise Conflict("an administrator already exists; ask them to create users")
        user = _create(
            actor=None,
            username=username,
            full_name=full_name,
            email="",
            password=password,
            must_change_password=must_change_password,
        )
        _grant(actor=None, user=user, site=site, role=Role.ADMIN)
    return user


def create_user(
    *,
    actor: User,
    username: str,
    full_name: str,
    password: str,
    email: str = "",
    must_change_password: bool = True,
) -> User:
    """A new account; by default the initial password must be changed at first login."""
    require(actor, Perm.USER_MANAGE)
    with transaction.atomic():
        return _create(
            actor=actor,
            username=username,
            full_name=full_name,
            email=email,
            password=password,
            must_change_password=must_change_password,
        )


def update_user(*, actor: User, user_id: int, reason: str, **fields: Any) -> User:
    require(actor, Perm.USER_MANAGE)
    _validate.only_editable(fields, EDITABLE_FIELDS)
    values = _clean(fields)
    why = _validate.reason(reason)
    with transaction.atomic():
        user = _user(user_id)
        before = audit.snapshot(user, User.RECORD_FIELDS)
        for key, value in values.items():
            setattr(user, key, value)
        changes = audit.diff(before, audit.snapshot(user, User.RECORD_FIELDS))
        if not changes:
            raise ValidationFailed("nothing to change: every value is as it was")
        user.save(update_fields=list(changes))
        audit.append_event(
            actor=actor, action="user.updated", record=user, changes=changes, reason=why
        )
    return user


def deactivate_user(*, actor: User, user_id: int, reason: str) -> User:
    """Accounts are deactivated, never deleted: their signatures and events name them."""
    require(actor, Perm.USER_MANAGE)
    why = _validate.reason(reason)
    if actor.pk == user_id:
        raise PermissionRefused("you cannot deactivate your own account", field="user_id")
    with transaction.atomic():
        user = _user(user_id)
        if not user.is_active:
            raise Conflict(f"user {user.username} is already inactive")
        user.is_active = False
        user.save(update_fields=["is_active"])
        user.api_tokens.filter(revoked_at__isnull=True).update(revoked_at=now())
        audit.append_event(
            actor=actor,
            action="user.deactivated",
            record=user,
            changes={"is_active": {"old": True, "new": False}},
            reason=why,
        )
    return user


def _grant(*, actor: User | None, user: User, site: Site, role: Role) -> RoleAssignment:
    held = set(user.role_assignments.filter(revoked_at__isnull=True).values_list("role", flat=True))
    if user.role_assignments.filter(revoked_at__isnull=True, role=role, site=site).exists():
        raise Conflict(f"{user.username} already holds {role} at {site.code}", field="role")
    # Segregation of duties: administrators and inspectors enter no GMP data.
    if role == Role.ADMIN and held & set(GMP_ROLES):
        raise ValidationFailed(
            "an administrator cannot also hold a GMP role; use a separate account", field="role"
        )
    if role in GMP_ROLES and Role.ADMIN in held:
        raise ValidationFailed(
            "an administrator cannot also hold a GMP role; use a separate account", field="role"
        )
    if (role == Role.INSPECTOR and held - {Role.INSPECTOR}) or (
        role != Role.INSPECTOR and Role.INSPECTOR in held
    ):
        raise ValidationFailed("an inspector account holds no other role", field="role")
    assignment = RoleAssignment.objects.create(
        user=user, site=site, role=role, granted_by=actor, granted_at=now()
    )
    if role == Role.ADMIN and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    audit.append_event(
        actor=actor,
        action="role.granted",
        record=assignment,
        changes=audit.created({"user": user.pk, "site": site.code, "role": str(role)}),
    )
    return assignment


def grant_role(*, actor: User, user_id: int, site_id: int, role: str) -> RoleAssignment:
    require(actor, Perm.USER_MANAGE)
    if role not in Role.values:
        raise ValidationFailed(f"role must be one of: {', '.join(Role.values)}", field="role")
    if actor.pk == user_id:
        raise PermissionRefused("you cannot change your own roles", field="user_id")
    with transaction.atomic():
        user = _user(user_id)
        if not user.is_active:
            raise Conflict(f"user {user.username} is inactive", field="user_id")
        site = Site.objects.filter(pk=site_id, is_active=True).first()
        if site is None:
            raise ValidationFailed(f"site {site_id} does not exist or is inactive", field="site_id")
        return _grant(actor=actor, user=user, site=site, role=Role(role))


def revoke_role(*, actor: User, assignment_id: int, reason: str) -> RoleAssignment:
    require(actor, Perm.USER_MANAGE)
    why = _validate.reason(reason)
    with transaction.atomic():
        assignment = (
            RoleAssignment.objects.select_for_update(no_key=True, of=("self",))
            .filter(pk=assignment_id)
            .first()
        )
        if assignment is None:
            raise NotFound(f"role assignment {assignment_id} does not exist", field="assignment_id")
        if assignment.user_id == actor.pk:
            raise PermissionRefused("you cannot change your own roles", field="assignment_id")
        if assignment.revoked_at is not None:
            raise Conflict("that role was already revoked", field="assignment_id")
        assignment.revoked_at = now()
        assignment.revoked_by = actor
        assignment.revoke_reason = why
        assignment.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        audit.append_event(
            actor=actor,
            action="role.revoked",
            record=assignment,
            changes={"revoked_at": {"old": None, "new": assignment.revoked_at}},
            reason=why,
        )
    return assignment


def set_password(*, actor: User, user_id: int, password: str, reason: str) -> User:
    """An administrator's reset: the user must choose a new password at next login."""
    require(actor, Perm.USER_MANAGE)
    why = _validate.reason(reason)
    with transaction.atomic():
        user = _user(user_id)
        _password(password, user)
        user.set_password(password)
        user.must_change_password = True
        user.save(update_fields=["password", "must_change_password"])
        audit.append_event(
            actor=actor,
            action="user.password_reset",
            record=user,
            changes={"password": {"old": "(hidden)", "new": "(hidden)"}},
            reason=why,
        )
    return user


def change_own_password(*, actor: User, old_password: str, new_password: str) -> User:
    if not actor.check_password(old_password or ""):
        raise ValidationFailed("old_password is incorrect", field="old_password")
    if old_password == new_password:
        raise ValidationFailed("new_password must differ from the old one", field="new_password")
    _password(new_password, actor, field="new_password")
    with transaction.atomic():
        user = _user(actor.pk)
        user.set_password(new_password)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password"])
        audit.append_event(
            actor=actor,
            action="user.password_changed",
            record=user,
            changes={"password": {"old": "(hidden)", "new": "(hidden)"}},
        )
    return user


def unlock_user(*, actor: User, user_id: int, reason: str) -> User:
    """Lift a lockout after failed logins or signatures."""
    require(actor, Perm.USER_MANAGE)
    why = _validate.reason(reason)
    with transaction.atomic():
        user = _user(user_id)
        cleared = axes_reset(username=user.username)
        audit.append_event(
            actor=actor,
            action="user.unlocked",
            record=user,
            changes={"failed_attempts_cleared": {"old": cleared, "new": 0}},
            reason=why,
        )
    return user
