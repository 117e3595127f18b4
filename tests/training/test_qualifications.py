"""Qualifications: granted by a supervisor with a signature, expiry from the type's validity,
superseded by a new grant, revoked with a reason; every refusal changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from tests.training.conftest import TRAINING_MODELS
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.errors import (
    Conflict,
    NotFound,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.models import AuditEvent
from vein2vein.core.signing import is_valid, signatures_for
from vein2vein.training import selectors, services
from vein2vein.training.models import Qualification
from vein2vein.training.services._common import add_months


def _grant(actor, user, site, code="APS", **extra):  # type: ignore[no-untyped-def]
    return services.grant_qualification(
        actor=actor,
        user_id=user.pk,
        qualification_code=code,
        site_id=site.pk,
        password=extra.pop("password", PASSWORD),
        **extra,
    )


def test_supervisor_grants_with_signature_and_expiry(operator, supervisor, site, aps):
    q = _grant(supervisor, operator, site, note="APS run 2026-03 passed")
    assert (q.status, q.granted_by, q.site) == ("active", supervisor, site)
    assert q.expires_at == add_months(q.granted_at, 6)
    (sig,) = signatures_for(q)
    assert (sig.signer, sig.meaning, sig.reason) == (
        supervisor,
        "approved",
        "APS run 2026-03 passed",
    )
    assert is_valid(sig, q)
    event = AuditEvent.objects.get(action="training.qualification.granted")
    assert event.changes["expires_at"]["new"].startswith(str(q.expires_at.year))
    assert q.state_at(timezone.now()) == "valid"
    assert q.state_at(q.expires_at) == "expired"
    assert verify_chain().ok


def test_add_months_keeps_the_day_or_the_months_last_day():
    base = dt.datetime(2026, 8, 31, 9, 30, tzinfo=dt.UTC)
    assert add_months(base, 6) == dt.datetime(2027, 2, 28, 9, 30, tzinfo=dt.UTC)
    assert add_months(base, 12) == dt.datetime(2027, 8, 31, 9, 30, tzinfo=dt.UTC)
    assert add_months(dt.datetime(2027, 11, 30, tzinfo=dt.UTC), 3).month == 2


def test_a_new_grant_supersedes_the_previous_one(operator, supervisor, supervisor2, site, aps):
    first = _grant(supervisor, operator, site)
    second = _grant(supervisor2, operator, site)
    first.refresh_from_db()
    assert (first.status, first.superseded_at) == ("superseded", second.granted_at)
    assert [q.pk for q in selectors.current_qualifications(operator)] == [second.pk]
    assert selectors.qualifications(state="superseded").get() == first
    assert selectors.qualifications(state="valid").get() == second


def test_supervisor_cannot_grant_to_themselves(supervisor, site, aps):
    with (
        nothing_written(*TRAINING_MODELS),
        pytest.raises(SignatureRefused, match="themselves") as exc,
    ):
        _grant(supervisor, supervisor, site)
    assert exc.value.field == "user_id"


@pytest.mark.parametrize(
    "role",
    [
        Role.OPERATOR,
        Role.VERIFIER,
        Role.QC_ANALYST,
        Role.QA_REVIEWER,
        Role.QA_APPROVER,
        Role.ADMIN,
        Role.INSPECTOR,
    ],
)
def test_only_supervisors_grant(make_user, operator, site, aps, role):
    actor = make_user(role, username=f"granter-{role}")
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused, match="supervisor"):
        _grant(actor, operator, site)


def test_supervisor_must_be_at_the_site(make_user, make_site, operator, site, aps):
    far = make_user(Role.SUPERVISOR, username="far", at=make_site(code="FAR-AWAY"))
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused, match="at MFG-TEST"):
        _grant(far, operator, site)


def test_wrong_password_refuses_and_counts(operator, supervisor, site, aps):
    from axes.models import AccessAttempt

    with (
        nothing_written(*TRAINING_MODELS),
        pytest.raises(SignatureRefused, match="incorrect") as exc,
    ):
        _grant(supervisor, operator, site, password="wrong")
    assert exc.value.field == "password"
    assert AccessAttempt.objects.get(username=supervisor.username).failures_since_start == 1


@pytest.mark.parametrize(
    ("change", "field", "error", "message"),
    [
        ({"qualification_code": "NOPE"}, "qualification_code", ValidationFailed, "does not exist"),
        ({"qualification_code": ""}, "qualification_code", ValidationFailed, "required"),
        ({"note": "x" * 2001}, "note", ValidationFailed, "at most 2000"),
        ({"user_id": 99999}, "user_id", NotFound, "does not exist"),
        ({"site_id": 99999}, "site_id", NotFound, "does not exist"),
        ({"password": ""}, "password", ValidationFailed, "required"),
    ],
)
def test_bad_input_names_the_field(operator, supervisor, site, aps, change, field, error, message):
    args = {
        "actor": supervisor,
        "user_id": operator.pk,
        "qualification_code": "APS",
        "site_id": site.pk,
        "password": PASSWORD,
        **change,
    }
    with nothing_written(*TRAINING_MODELS), pytest.raises(error, match=message) as exc:
        services.grant_qualification(**args)
    assert exc.value.field == field


def test_person_without_a_role_at_the_site_is_refused(make_user, supervisor, site, aps, make_site):
    elsewhere = make_user(Role.OPERATOR, username="elsewhere", at=make_site(code="OTHER"))
    with (
        nothing_written(*TRAINING_MODELS),
        pytest.raises(ValidationFailed, match="no active role") as exc,
    ):
        _grant(supervisor, elsewhere, site)
    assert exc.value.field == "user_id"


def test_inactive_type_cannot_be_granted(operator, supervisor, site, aps):
    services.update_qualification_type(
        actor=supervisor, code="APS", reason="Replaced by APS-2", is_active=False
    )
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed, match="inactive"):
        _grant(supervisor, operator, site)


def test_revoke_with_reason(operator, supervisor, site, aps):
    q = _grant(supervisor, operator, site)
    revoked = services.revoke_qualification(
        actor=supervisor, qualification_id=q.pk, reason="Failed APS media fill"
    )
    assert (revoked.status, revoked.revoked_by, revoked.revoke_reason) == (
        "revoked",
        supervisor,
        "Failed APS media fill",
    )
    event = AuditEvent.objects.get(action="training.qualification.revoked")
    assert event.reason == "Failed APS media fill"
    assert event.changes["status"] == {"old": "active", "new": "revoked"}
    assert not selectors.is_qualified(operator, ["APS"])
    assert selectors.qualifications(state="revoked").get() == q


def test_revoke_refusals(operator, supervisor, site, aps):
    q = _grant(supervisor, operator, site)
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed) as exc:
        services.revoke_qualification(actor=supervisor, qualification_id=q.pk, reason=" ")
    assert exc.value.field == "reason"
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused):
        services.revoke_qualification(actor=operator, qualification_id=q.pk, reason="no")
    with nothing_written(*TRAINING_MODELS), pytest.raises(NotFound):
        services.revoke_qualification(actor=supervisor, qualification_id=9999, reason="x")
    services.revoke_qualification(actor=supervisor, qualification_id=q.pk, reason="x")
    with nothing_written(*TRAINING_MODELS), pytest.raises(Conflict, match="already revoked"):
        services.revoke_qualification(actor=supervisor, qualification_id=q.pk, reason="x")


def test_expired_qualification_needs_a_new_grant(operator, supervisor, site, aps):
    q = _grant(supervisor, operator, site)
    later = q.expires_at + dt.timedelta(days=1)
    assert not selectors.is_qualified(operator, ["APS"], at=later)
    assert selectors.qualifications(state="expired", at=later).get() == q
    assert selectors.expiring(operator, within_days=200) == [q]
    assert selectors.expiring(operator, within_days=30) == []


def test_the_database_refuses_a_self_grant_too(operator, site, aps):
    from django.db import IntegrityError, transaction

    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Qualification.objects.create(
            user=operator,
            qualification_type=aps,
            site=site,
            granted_by=operator,
            granted_at=now,
            expires_at=now + dt.timedelta(days=1),
        )
