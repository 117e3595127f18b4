"""`active_roles` outside a read-once request reads the roles with one small statement: the
same answer as the assignments read with their sites (unrevoked, at an active site), and a
change made between two checks is seen by the second."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.core.factories import SiteFactory, UserFactory, grant
from vein2vein.core.choices import Role
from vein2vein.core.errors import PermissionRefused
from vein2vein.core.permissions import (
    Perm,
    active_roles,
    require,
    roles_checked_once,
    roles_read_once,
)
from vein2vein.core.time import now

pytestmark = pytest.mark.django_db


def _through_assignments(user, site=None):  # type: ignore[no-untyped-def]
    with roles_read_once():
        return active_roles(user, site)


def test_the_small_statement_answers_as_the_assignments_do() -> None:
    here, there, closed = SiteFactory(), SiteFactory(), SiteFactory(is_active=False)
    user = UserFactory()
    grant(user, Role.OPERATOR, here)
    grant(user, Role.VERIFIER, there)
    grant(user, Role.SUPERVISOR, closed)
    revoked = grant(user, Role.QA_REVIEWER, here)
    revoked.revoked_at = now()
    revoked.save(update_fields=["revoked_at"])
    for site in (None, here, there, closed):
        assert active_roles(user, site) == _through_assignments(user, site), site
    assert active_roles(user) == {Role.OPERATOR, Role.VERIFIER}
    assert active_roles(user, here) == {Role.OPERATOR}
    assert active_roles(user, closed) == set()
    with CaptureQueriesContext(connection) as ctx:
        active_roles(user, here)
    assert len(ctx.captured_queries) == 1


def test_a_role_revoked_or_a_site_closed_between_two_checks_is_seen() -> None:
    site = SiteFactory()
    user = UserFactory()
    granted = grant(user, Role.ADMIN, site)
    require(user, Perm.SITE_MANAGE)
    granted.revoked_at = now()
    granted.save(update_fields=["revoked_at"])
    with pytest.raises(PermissionRefused):
        require(user, Perm.SITE_MANAGE)
    grant(user, Role.ADMIN, site)
    require(user, Perm.SITE_MANAGE, site)
    site.is_active = False
    site.save(update_fields=["is_active"])
    with pytest.raises(PermissionRefused):
        require(user, Perm.SITE_MANAGE, site)


def test_an_inactive_user_holds_no_role() -> None:
    site = SiteFactory()
    user = UserFactory()
    grant(user, Role.OPERATOR, site)
    user.is_active = False
    with CaptureQueriesContext(connection) as ctx:
        assert active_roles(user, site) == set()
    assert not ctx.captured_queries


def test_one_service_call_reads_a_pair_once_and_the_next_call_reads_again() -> None:
    site, other = SiteFactory(), SiteFactory()
    user = UserFactory()
    granted = grant(user, Role.OPERATOR, site)
    with CaptureQueriesContext(connection) as ctx, roles_checked_once():
        assert active_roles(user, site) == {Role.OPERATOR}
        with roles_checked_once():  # a service called by a service shares the answers
            assert active_roles(user, site) == {Role.OPERATOR}
        active_roles(user, site).clear()  # the caller's copy
        assert active_roles(user, site) == {Role.OPERATOR}
        assert active_roles(user, other) == set()  # another pair: read
    assert len(ctx.captured_queries) == 2
    granted.revoked_at = now()
    granted.save(update_fields=["revoked_at"])
    with roles_checked_once():
        assert active_roles(user, site) == set()  # the revocation is seen by the next call
