"""What each role may do. Services call `require`; views and the API only mirror it.

Roles are held at a site (RoleAssignment). A check for a site asks for a role held at that
site; a check without a site (organisation-wide master data) asks for the role anywhere.
Each domain app declares its own permissions in `<app>/permissions.py` with
`register_permissions`, so the whole map is readable in one place per app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import TYPE_CHECKING

from .choices import Role, SignatureMeaning
from .errors import PermissionRefused

if TYPE_CHECKING:
    from .models import RoleAssignment, Site, User

security_log = logging.getLogger("vein2vein.security")


class Perm(StrEnum):
    SITE_MANAGE = "core.site.manage"
    USER_MANAGE = "core.user.manage"
    AUDIT_VIEW = "core.audit.view"
    RECORD_VIEW = "core.record.view"


ALL_ROLES = frozenset(Role)
GMP_ROLES = ALL_ROLES - {Role.ADMIN, Role.INSPECTOR}

ROLE_PERMISSIONS: dict[str, frozenset[Role]] = {
    # Administrators manage users and sites and enter no GMP data.
    Perm.SITE_MANAGE: frozenset({Role.ADMIN}),
    Perm.USER_MANAGE: frozenset({Role.ADMIN}),
    # Everyone with a role reads; the inspector reads everything and writes nothing.
    Perm.AUDIT_VIEW: ALL_ROLES,
    Perm.RECORD_VIEW: ALL_ROLES,
}

# Which roles may sign with which meaning. Admin and inspector sign nothing.
SIGNING_ROLES: dict[SignatureMeaning, frozenset[Role]] = {
    # Every GMP role performs its own work, at least its own read-and-understood training.
    SignatureMeaning.PERFORMED: frozenset(
        {
            Role.OPERATOR,
            Role.VERIFIER,
            Role.SUPERVISOR,
            Role.QC_ANALYST,
            Role.QA_REVIEWER,
            Role.QA_APPROVER,
            Role.LOGISTICS,
            Role.CLINICAL_SITE,
        }
    ),
    # QA verifies as a trainer signing off trainer-led training.
    SignatureMeaning.VERIFIED: frozenset(
        {Role.VERIFIER, Role.SUPERVISOR, Role.QC_ANALYST, Role.QA_REVIEWER, Role.QA_APPROVER}
    ),
    SignatureMeaning.REVIEWED: frozenset(
        {Role.QA_REVIEWER, Role.QA_APPROVER, Role.SUPERVISOR, Role.QC_ANALYST}
    ),
    SignatureMeaning.APPROVED: frozenset({Role.QA_APPROVER, Role.SUPERVISOR}),
    SignatureMeaning.RELEASED: frozenset({Role.QA_APPROVER}),
    SignatureMeaning.REJECTED: frozenset({Role.QA_APPROVER}),
    SignatureMeaning.EXCEPTIONAL_RELEASE: frozenset({Role.QA_APPROVER}),
}


def register_permissions(permissions: dict[str, frozenset[Role]]) -> None:
    """Add an app's permissions to the map; a name may be declared once only."""
    for name, roles in permissions.items():
        if name in ROLE_PERMISSIONS and ROLE_PERMISSIONS[name] != roles:
            raise ValueError(f"permission {name} is already declared with other roles")
        ROLE_PERMISSIONS[str(name)] = frozenset(roles)


# The role assignments read in this request, by user id; None outside a read-only request.
_held: ContextVar[dict[int, list[RoleAssignment]] | None] = ContextVar("held_roles", default=None)


@contextmanager
def roles_read_once() -> Iterator[None]:
    """Within the block each user's role assignments are read once. For read-only requests
    (core.middleware.RolesReadOnceMiddleware): nothing there grants or revokes a role, so the
    dozen checks a page makes (permissions, navigation, site lists) share one query."""
    token = _held.set({})
    try:
        yield
    finally:
        _held.reset(token)


# The roles found by `_roles_now` in this service call, by (user id, site id or None); None
# outside `roles_checked_once`.
_checked: ContextVar[dict[tuple[int, int | None], set[Role]] | None] = ContextVar(
    "checked_roles", default=None
)


@contextmanager
def roles_checked_once() -> Iterator[None]:
    """Within the block each (user, site) pair's roles are read once: for one service call
    whose checks (its permission, a role of its own workflow, the signing role) ask the same
    question of the same rows. The call grants and revokes nothing; the next call reads again.
    Nested blocks share the outermost one's answers."""
    if _checked.get() is not None:
        yield
        return
    token = _checked.set({})
    try:
        yield
    finally:
        _checked.reset(token)


def held_assignments(user: User) -> list[RoleAssignment]:
    """`user`'s unrevoked role assignments with their sites, by site code then role (inactive
    sites included: callers that need an active site say so)."""
    from .models import RoleAssignment

    cache = _held.get()
    if cache is not None and user.pk in cache:
        return cache[user.pk]
    rows = list(
        RoleAssignment.objects.filter(user_id=user.pk, revoked_at__isnull=True).select_related(
            "site"
        )
    )
    if cache is not None:
        cache[user.pk] = rows
    return rows


def active_assignments_where(
    user: User, keep: Callable[[RoleAssignment], bool] = lambda a: True
) -> list[RoleAssignment]:
    """`user`'s unrevoked assignments at active sites that `keep` accepts."""
    if not user.is_authenticated:
        return []
    return [a for a in held_assignments(user) if a.site.is_active and keep(a)]


def active_roles(user: User, site: Site | None = None) -> set[Role]:
    """The roles `user` holds now, at `site` or (site=None) anywhere."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if _held.get() is None:
        checked = _checked.get()
        if checked is None:
            return _roles_now(user, site)
        key = (user.pk, site.pk if site is not None else None)
        if key not in checked:
            checked[key] = _roles_now(user, site)
        return set(checked[key])
    return {
        Role(a.role)
        for a in active_assignments_where(user, lambda a: site is None or a.site_id == site.pk)
    }


def _roles_now(user: User, site: Site | None) -> set[Role]:
    """The same answer as `active_assignments_where` (unrevoked, at an active site), read as
    one small statement: every service write checks a role first, and the ORM's compiling of
    the assignment query with its site cost more than the rest of a simple write."""
    from django.db import connection

    from .models import RoleAssignment
    from .models import Site as SiteModel

    qn = connection.ops.quote_name  # the model's own names, quoted; every value is a parameter
    ra, st = RoleAssignment._meta, SiteModel._meta
    sql = (
        f"SELECT a.{qn(ra.get_field('role').column)} FROM {qn(ra.db_table)} a "  # noqa: S608
        f"JOIN {qn(st.db_table)} s ON s.{qn(st.pk.column)} = a.{qn(ra.get_field('site').column)} "
        f"WHERE a.{qn(ra.get_field('user').column)} = %s "
        f"AND a.{qn(ra.get_field('revoked_at').column)} IS NULL "
        f"AND s.{qn(st.get_field('is_active').column)} = %s"
    )
    params: list[int | bool] = [user.pk, True]
    if site is not None:
        sql += f" AND a.{qn(ra.get_field('site').column)} = %s"
        params.append(site.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {Role(row[0]) for row in cursor.fetchall()}


def has_perm(user: User, perm: str, site: Site | None = None) -> bool:
    return bool(active_roles(user, site) & ROLE_PERMISSIONS[perm])


def require(user: User | None, perm: str, site: Site | None = None) -> None:
    """Refuse unless `user` holds a role granting `perm` (at `site`, when given)."""
    if user is None or not has_perm(user, perm, site):
        where = f" at {site.code}" if site is not None else ""
        allowed = ", ".join(sorted(ROLE_PERMISSIONS[perm]))
        security_log.warning(
            "refused %s to %s%s", perm, user.get_username() if user else "anonymous", where
        )
        raise PermissionRefused(f"{perm} needs one of these roles{where}: {allowed}")


def require_role(
    user: User | None, roles: frozenset[Role], what: str, site: Site | None = None
) -> None:
    """Refuse unless `user` holds one of `roles` (for a step that names its roles directly)."""
    if user is None or not active_roles(user, site) & roles:
        where = f" at {site.code}" if site is not None else ""
        raise PermissionRefused(
            f"{what} needs one of these roles{where}: {', '.join(sorted(roles))}"
        )


def can_sign(user: User, meaning: SignatureMeaning, site: Site | None = None) -> bool:
    return bool(active_roles(user, site) & SIGNING_ROLES[meaning])
