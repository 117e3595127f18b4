"""Users and roles: administrators manage people and hold no GMP role themselves."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from vein2vein.core import services
from vein2vein.core.choices import Role
from vein2vein.core.errors import Conflict, PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent, RoleAssignment, User
from vein2vein.core.permissions import active_roles


def test_admin_creates_user_who_must_change_password(admin_user):
    user = services.create_user(
        actor=admin_user, username="New.Person", full_name="New Person", password="Str0ng-pass!x"
    )
    assert user.username == "new.person"
    assert user.must_change_password
    assert user.check_password("Str0ng-pass!x")
    event = AuditEvent.objects.get(action="user.created")
    assert "password" not in event.changes


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMIN])
def test_only_admin_creates_users(make_user, role):
    actor = make_user(role)
    with nothing_written(), pytest.raises(PermissionRefused):
        services.create_user(actor=actor, username="x1", full_name="X", password="Str0ng-pass!x")


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("username", {"username": "A B"}),
        ("username", {"username": ""}),
        ("full_name", {"full_name": ""}),
        ("email", {"email": "not-an-email"}),
        ("password", {"password": "short"}),
        ("password", {"password": "password123"}),
    ],
)
def test_bad_user_input_names_the_field(admin_user, field, kwargs):
    data = {"username": "fine.user", "full_name": "Fine User", "password": "Str0ng-pass!x"}
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.create_user(actor=admin_user, **{**data, **kwargs})
    assert exc.value.field == field


def test_duplicate_username_is_refused(admin_user, operator):
    with nothing_written(), pytest.raises(ValidationFailed, match="taken"):
        services.create_user(
            actor=admin_user, username=operator.username, full_name="X", password="Str0ng-pass!x"
        )


def test_grant_and_revoke_role_keep_history(admin_user, make_user, site):
    person = make_user(None)
    assignment = services.grant_role(
        actor=admin_user, user_id=person.pk, site_id=site.pk, role="verifier"
    )
    assert active_roles(person) == {Role.VERIFIER}
    services.revoke_role(actor=admin_user, assignment_id=assignment.pk, reason="moved to QC")
    assert active_roles(person) == set()
    kept = RoleAssignment.objects.get(pk=assignment.pk)
    assert kept.revoked_by == admin_user and kept.revoke_reason == "moved to QC"
    with nothing_written(), pytest.raises(Conflict):
        services.revoke_role(actor=admin_user, assignment_id=assignment.pk, reason="again")


def test_admin_cannot_change_own_roles(admin_user, site):
    with nothing_written(), pytest.raises(PermissionRefused, match="your own roles"):
        services.grant_role(
            actor=admin_user, user_id=admin_user.pk, site_id=site.pk, role="operator"
        )


def test_admin_cannot_also_hold_a_gmp_role(admin_user, make_user, site):
    other_admin = make_user(Role.ADMIN)
    with nothing_written(), pytest.raises(ValidationFailed, match="separate account"):
        services.grant_role(
            actor=admin_user, user_id=other_admin.pk, site_id=site.pk, role="operator"
        )


def test_operator_cannot_be_made_admin(admin_user, operator, site):
    with nothing_written(), pytest.raises(ValidationFailed, match="separate account"):
        services.grant_role(actor=admin_user, user_id=operator.pk, site_id=site.pk, role="admin")


def test_inspector_holds_no_other_role(admin_user, inspector, site):
    with nothing_written(), pytest.raises(ValidationFailed, match="inspector"):
        services.grant_role(
            actor=admin_user, user_id=inspector.pk, site_id=site.pk, role="qa_reviewer"
        )


def test_unknown_role_and_missing_site(admin_user, operator):
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.grant_role(actor=admin_user, user_id=operator.pk, site_id=1, role="wizard")
    assert exc.value.field == "role"
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.grant_role(actor=admin_user, user_id=operator.pk, site_id=99999, role="verifier")
    assert exc.value.field == "site_id"


def test_same_role_twice_is_a_conflict(admin_user, operator, site):
    with nothing_written(), pytest.raises(Conflict):
        services.grant_role(actor=admin_user, user_id=operator.pk, site_id=site.pk, role="operator")


def test_deactivate_user_keeps_the_row_and_revokes_tokens(admin_user, operator):
    token, _ = services.create_api_token(actor=operator, user=operator, name="bench scale")
    services.deactivate_user(actor=admin_user, user_id=operator.pk, reason="left the company")
    operator.refresh_from_db()
    token.refresh_from_db()
    assert operator.is_active is False
    assert token.revoked_at is not None
    assert User.objects.filter(pk=operator.pk).exists()


def test_admin_cannot_deactivate_self(admin_user):
    with nothing_written(), pytest.raises(PermissionRefused):
        services.deactivate_user(actor=admin_user, user_id=admin_user.pk, reason="oops")


def test_update_user_records_old_and_new(admin_user, operator):
    services.update_user(
        actor=admin_user, user_id=operator.pk, reason="married name", full_name="Olivia Smith"
    )
    event = AuditEvent.objects.get(action="user.updated")
    assert event.changes == {"full_name": {"old": "Olivia Operator", "new": "Olivia Smith"}}


def test_password_reset_and_own_change(admin_user, operator):
    services.set_password(
        actor=admin_user, user_id=operator.pk, password="Temp-pass-123!", reason="forgotten"
    )
    operator.refresh_from_db()
    assert operator.must_change_password
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.change_own_password(
            actor=operator, old_password="wrong", new_password="X-new-pass-9!"
        )
    assert exc.value.field == "old_password"
    services.change_own_password(
        actor=operator, old_password="Temp-pass-123!", new_password="Mine-now-2026!"
    )
    operator.refresh_from_db()
    assert operator.check_password("Mine-now-2026!") and not operator.must_change_password
    changes = AuditEvent.objects.filter(record_type="core.user").values_list("changes", flat=True)
    assert all("Mine-now" not in str(c) and "Temp-pass" not in str(c) for c in changes)


def test_bootstrap_only_once(site):
    services.bootstrap_installation(
        site_code="HQ",
        site_name="HQ",
        site_kind="manufacturing",
        time_zone="UTC",
        username="first.admin",
        full_name="First Admin",
        password="Str0ng-pass!x",
    )
    with nothing_written(), pytest.raises(Conflict, match="already exists"):
        services.bootstrap_installation(
            site_code="HQ2",
            site_name="HQ2",
            site_kind="manufacturing",
            time_zone="UTC",
            username="second.admin",
            full_name="Second",
            password="Str0ng-pass!x",
        )
    assert AuditEvent.objects.filter(actor__isnull=True, actor_username="system").count() == 3


def test_first_login_forces_password_change(client, admin_user, site):  # type: ignore[no-untyped-def]
    user = services.create_user(
        actor=admin_user, username="fresh", full_name="Fresh Person", password="Initial-pass-1!"
    )
    services.grant_role(actor=admin_user, user_id=user.pk, site_id=site.pk, role="operator")
    client.post("/accounts/login/", {"username": "fresh", "password": "Initial-pass-1!"})
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/accounts/password/"
    response = client.post(
        "/accounts/password/",
        {
            "old_password": "Initial-pass-1!",
            "new_password": "My-own-pass-7!",
            "new_password_again": "My-own-pass-7!",
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert PASSWORD  # the shared fixture password is untouched
