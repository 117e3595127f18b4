"""Site management: the service pattern, its refusals, and the audit trail it leaves."""

from __future__ import annotations

import pytest

from tests.core.helpers import nothing_written
from vein2vein.core import services
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.errors import Conflict, NotFound, PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent, Site

NEW_SITE = {
    "code": "clin-nyc",
    "name": "Hudson Clinical Site",
    "kind": "clinical",
    "time_zone": "America/New_York",
    "fin": "c1234",
}


def test_admin_creates_site_with_audit_event(admin_user):
    site = services.create_site(actor=admin_user, **NEW_SITE)
    assert (site.code, site.fin, site.kind) == ("CLIN-NYC", "C1234", "clinical")
    event = AuditEvent.objects.get(action="site.created")
    assert event.actor == admin_user
    assert (event.record_type, event.record_id) == ("core.site", str(site.pk))
    assert event.changes["time_zone"] == {"old": None, "new": "America/New_York"}
    assert verify_chain().ok


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ADMIN])
def test_every_other_role_is_refused_and_nothing_is_written(make_user, role):
    actor = make_user(role)
    with nothing_written(), pytest.raises(PermissionRefused, match=r"core\.site\.manage"):
        services.create_site(actor=actor, **NEW_SITE)


def test_user_without_any_role_is_refused(make_user):
    nobody = make_user(None)
    with nothing_written(), pytest.raises(PermissionRefused):
        services.create_site(actor=nobody, **NEW_SITE)


def test_revoked_admin_is_refused(admin_user, make_user):
    admin_user.role_assignments.update(revoked_at="2026-01-01T00:00:00Z")
    with nothing_written(), pytest.raises(PermissionRefused):
        services.create_site(actor=admin_user, **NEW_SITE)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("code", "", "code is required"),
        ("code", "has space", "capital letters"),
        ("name", "", "name is required"),
        ("name", "x" * 201, "at most 200"),
        ("kind", "hospital", "kind must be one of"),
        ("time_zone", "Mars/Olympus", "not an IANA time zone"),
        ("time_zone", "", "time_zone is required"),
        ("fin", "O1234", "never O or 0"),
        ("fin", "A12", "5 characters"),
        ("address", "bad\x00byte", "control characters"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(admin_user, field, value, message):
    with nothing_written(), pytest.raises(ValidationFailed, match=message) as exc:
        services.create_site(actor=admin_user, **{**NEW_SITE, field: value})
    assert exc.value.field == field


def test_duplicate_code_and_fin_are_refused(admin_user):
    services.create_site(actor=admin_user, **NEW_SITE)
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.create_site(actor=admin_user, **{**NEW_SITE, "fin": ""})
    assert exc.value.field == "code"
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.create_site(actor=admin_user, **{**NEW_SITE, "code": "OTHER"})
    assert exc.value.field == "fin"


def test_update_keeps_old_value_and_reason(admin_user, site):
    services.update_site(
        actor=admin_user, site_id=site.pk, reason="Typo in name", name="Madrid plant"
    )
    site.refresh_from_db()
    assert site.name == "Madrid plant"
    event = AuditEvent.objects.get(action="site.updated")
    assert event.changes == {"name": {"old": "Site MFG-TEST", "new": "Madrid plant"}}
    assert event.reason == "Typo in name"


def test_update_needs_a_reason(admin_user, site):
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.update_site(actor=admin_user, site_id=site.pk, reason="  ", name="X")
    assert exc.value.field == "reason"


def test_update_refuses_code_change_and_no_op(admin_user, site):
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.update_site(actor=admin_user, site_id=site.pk, reason="r", code="NEW")
    assert exc.value.field == "code"
    with nothing_written(), pytest.raises(ValidationFailed, match="nothing to change"):
        services.update_site(actor=admin_user, site_id=site.pk, reason="r", name=site.name)


def test_update_missing_site_is_not_found(admin_user):
    with nothing_written(), pytest.raises(NotFound) as exc:
        services.update_site(actor=admin_user, site_id=999999, reason="r", name="X")
    assert exc.value.field == "site_id"


def test_operator_cannot_update(operator, site):
    with nothing_written(), pytest.raises(PermissionRefused):
        services.update_site(actor=operator, site_id=site.pk, reason="r", name="X")


def test_deactivating_the_last_administrators_site_is_refused(admin_user, site):
    with nothing_written(), pytest.raises(Conflict, match="no active administrator"):
        services.deactivate_site(actor=admin_user, site_id=site.pk, reason="Closing")


def test_deactivate_then_reactivate_never_deletes(admin_user, make_site):
    site = make_site(code="CLOSING")
    services.deactivate_site(actor=admin_user, site_id=site.pk, reason="Closed for renovation")
    assert Site.objects.get(pk=site.pk).is_active is False
    with nothing_written(), pytest.raises(Conflict):
        services.deactivate_site(actor=admin_user, site_id=site.pk, reason="again")
    services.reactivate_site(actor=admin_user, site_id=site.pk, reason="Reopened")
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions == ["site.deactivated", "site.reactivated"]
    assert verify_chain().ok


def test_permission_refusal_is_written_to_the_security_log(operator, caplog):
    with caplog.at_level("WARNING", logger="vein2vein.security"), pytest.raises(PermissionRefused):
        services.create_site(actor=operator, **NEW_SITE)
    assert "refused core.site.manage to operator1" in caplog.text
