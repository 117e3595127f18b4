"""Closing a deviation with the QA approver's signature, and extending its due date with a QA
signature: role, password (checked before the transaction, so it counts toward lockout), four
eyes, and the CAPA interlock."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt

from tests.conftest import PASSWORD
from tests.quality.factories import capa_with_action, in_days, pending, raise_one
from tests.quality.helpers import only_blocked, unchanged
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.errors import (
    Conflict,
    InterlockBlocked,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.core.signing import is_valid
from vein2vein.quality import services
from vein2vein.quality.models import DeviationExtension


@pytest.fixture
def ready(supervisor, operator, site):  # type: ignore[no-untyped-def]
    """Raised by the operator, investigated by the supervisor, pending QA approval."""
    return pending(supervisor, site, raised_by=operator)


def close(actor, dev, password=PASSWORD, **kw):  # type: ignore[no-untyped-def]
    return services.close_deviation(actor=actor, deviation_id=dev.pk, password=password, **kw)


def test_qa_approver_closes_with_an_approved_signature(ready, qa_approver):
    dev = close(qa_approver, ready, comment="Root cause addressed")
    assert (dev.status, dev.closed_by, dev.closure_comment) == (
        "closed",
        qa_approver,
        "Root cause addressed",
    )
    sig = Signature.objects.get()
    assert (sig.signer, sig.meaning, sig.record_type, sig.record_id) == (
        qa_approver,
        "approved",
        "quality.deviation",
        str(dev.pk),
    )
    assert is_valid(sig, dev), "the signature covers the deviation as closed"
    actions = list(
        AuditEvent.objects.filter(record_id=str(dev.pk)).values_list("action", flat=True)
    )[-2:]
    assert actions == ["quality.deviation.closed", "signature.approved"]
    with unchanged(), pytest.raises(Conflict):
        close(qa_approver, dev)
    assert verify_chain().ok


@pytest.mark.parametrize(
    "role",
    [Role.OPERATOR, Role.SUPERVISOR, Role.QA_REVIEWER, Role.QC_ANALYST, Role.ADMIN, Role.INSPECTOR],
)
def test_only_a_qa_approver_may_close(make_user, ready, role):
    actor = make_user(role)
    with unchanged(), pytest.raises(PermissionRefused, match=r"quality\.deviation\.close"):
        close(actor, ready)


def test_wrong_password_is_refused_and_counts_toward_lockout(ready, qa_approver):
    with unchanged(), pytest.raises(SignatureRefused, match="incorrect") as exc:
        close(qa_approver, ready, password="not-it")
    assert exc.value.field == "password"
    # The failed attempt was recorded outside the (rolled back) transaction.
    attempt = AccessAttempt.objects.get(username=qa_approver.username)
    assert attempt.failures_since_start == 1
    for _ in range(4):
        with pytest.raises(SignatureRefused, match="incorrect"):
            close(qa_approver, ready, password="not-it")
    with pytest.raises(SignatureRefused, match="now locked"):
        close(qa_approver, ready, password="not-it")
    with unchanged(), pytest.raises(SignatureRefused, match="locked"):
        close(qa_approver, ready)
    ready.refresh_from_db()
    assert ready.status == "pending_qa_approval"


def test_missing_password_is_refused(ready, qa_approver):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        close(qa_approver, ready, password="")
    assert exc.value.field == "password"


def test_the_qa_approver_who_raised_it_cannot_close_it(qa_approver, qa_approver2, supervisor, site):
    dev = pending(supervisor, site, raised_by=qa_approver)
    with unchanged(), pytest.raises(SignatureRefused, match="you raised"):
        close(qa_approver, dev)
    assert close(qa_approver2, dev).status == "closed"


def test_the_qa_approver_who_investigated_it_cannot_close_it(qa_approver, operator, site):
    dev = pending(qa_approver, site, raised_by=operator)
    with unchanged(), pytest.raises(SignatureRefused, match="you investigated"):
        close(qa_approver, dev)


@pytest.mark.parametrize("status_maker", ["open", "investigating"])
def test_only_a_deviation_pending_approval_closes(
    supervisor, operator, qa_approver, site, status_maker
):
    dev = raise_one(operator, site)
    if status_maker == "investigating":
        from tests.quality.factories import investigating

        dev = investigating(supervisor, site, raised_by=operator)
    with unchanged(), pytest.raises(Conflict, match="not pending QA approval"):
        close(qa_approver, dev)


def test_an_open_capa_action_blocks_closure_and_the_attempt_is_recorded(
    ready, supervisor, operator, qa_approver
):
    capa, action = capa_with_action(supervisor, operator, ready)
    with only_blocked("quality.deviation.close"), pytest.raises(InterlockBlocked) as exc:
        close(qa_approver, ready)
    assert capa.number in exc.value.message and f"#{action.pk}" in exc.value.message
    assert exc.value.field == "justifications"
    blocked = AuditEvent.objects.get(action="quality.deviation.close.blocked")
    assert (blocked.actor, blocked.record_id) == (qa_approver, str(ready.pk))
    # An action in progress blocks too.
    services.start_action(actor=operator, action_id=action.pk)
    with only_blocked("quality.deviation.close"), pytest.raises(InterlockBlocked):
        close(qa_approver, ready)
    # Done: the deviation closes.
    services.complete_action(actor=operator, action_id=action.pk, evidence="Template controlled")
    assert close(qa_approver, ready).status == "closed"


def test_an_open_action_may_be_justified_at_closure(ready, supervisor, operator, qa_approver):
    _, action = capa_with_action(supervisor, operator, ready)
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        close(qa_approver, ready, justifications={"999": "not one of ours"})
    assert exc.value.field == "justifications"
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        close(qa_approver, ready, justifications={"abc": "x"})
    assert exc.value.field == "justifications"
    dev = close(
        qa_approver,
        ready,
        justifications={action.pk: "Preventive; tracked in its CAPA, no product impact"},
    )
    assert dev.closure_justifications == {
        str(action.pk): "Preventive; tracked in its CAPA, no product impact"
    }
    event = AuditEvent.objects.get(action="quality.deviation.closed")
    assert str(action.pk) in event.changes["closure_justifications"]["new"]


def test_cancelled_actions_and_cancelled_capas_do_not_block(
    ready, supervisor, operator, qa_approver
):
    _, action = capa_with_action(supervisor, operator, ready)
    capa2, action2 = capa_with_action(supervisor, operator, ready)
    services.cancel_action(actor=supervisor, action_id=action.pk, reason="Superseded")
    services.cancel_capa(actor=supervisor, capa_id=capa2.pk, reason="Raised twice")
    action2.refresh_from_db()
    assert action2.status == "cancelled" and "Raised twice" in action2.cancel_reason
    assert close(qa_approver, ready).status == "closed"


# --- due date extension ---------------------------------------------------------------------
def extend(actor, dev, days=45, password=PASSWORD, reason="Supplier answer awaited"):  # type: ignore[no-untyped-def]
    return services.extend_due_date(
        actor=actor,
        deviation_id=dev.pk,
        new_due_date=dev.due_date + dt.timedelta(days=days - 30),
        reason=reason,
        password=password,
    )


@pytest.mark.parametrize(
    ("role", "meaning"), [("qa_approver", "approved"), ("qa_reviewer", "reviewed")]
)
def test_qa_extends_with_a_signature_and_the_old_date_stays_in_the_audit_trail(
    make_user, operator, site, role, meaning
):
    dev = raise_one(operator, site)
    old = dev.due_date
    qa = make_user(role)
    ext = extend(qa, dev)
    dev.refresh_from_db()
    assert dev.due_date == old + dt.timedelta(days=15)
    assert (ext.old_due_date, ext.new_due_date, ext.granted_by) == (old, dev.due_date, qa)
    event = AuditEvent.objects.get(action="quality.deviation.due_date_extended")
    assert event.changes["due_date"] == {"old": old.isoformat(), "new": dev.due_date.isoformat()}
    assert event.reason == "Supplier answer awaited"
    sig = Signature.objects.get()
    assert (sig.signer, sig.meaning, sig.record_type) == (qa, meaning, "quality.deviationextension")
    assert is_valid(sig, ext)
    # Later work on the deviation leaves the extension's signature valid.
    services.cancel_deviation(actor=make_user(Role.SUPERVISOR), deviation_id=dev.pk, reason="x")
    assert is_valid(sig)


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.INSPECTOR])
def test_only_qa_extends(make_user, operator, site, role):
    dev, actor = raise_one(operator, site), make_user(role)
    with unchanged(), pytest.raises(PermissionRefused, match=r"quality\.deviation\.extend"):
        extend(actor, dev)


def test_extension_needs_a_reason_a_later_date_and_the_right_password(qa_reviewer, operator, site):
    dev = raise_one(operator, site)
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        extend(qa_reviewer, dev, reason="")
    assert exc.value.field == "reason"
    with unchanged(), pytest.raises(ValidationFailed, match="after the current due date") as exc:
        extend(qa_reviewer, dev, days=20)
    assert exc.value.field == "new_due_date"
    with unchanged(), pytest.raises(ValidationFailed, match="in the past"):
        services.extend_due_date(
            actor=qa_reviewer,
            deviation_id=dev.pk,
            new_due_date=in_days(-1),
            reason="r",
            password=PASSWORD,
        )
    with unchanged(), pytest.raises(ValidationFailed, match="a date"):
        services.extend_due_date(
            actor=qa_reviewer,
            deviation_id=dev.pk,
            new_due_date="soon",
            reason="r",
            password="p",  # type: ignore[arg-type]
        )
    with unchanged(), pytest.raises(SignatureRefused, match="incorrect"):
        extend(qa_reviewer, dev, password="wrong")
    assert AccessAttempt.objects.get(username=qa_reviewer.username).failures_since_start == 1


def test_a_closed_deviation_is_not_extended(ready, qa_approver, qa_reviewer):
    close(qa_approver, ready)
    ready.refresh_from_db()
    with unchanged(), pytest.raises(Conflict):
        extend(qa_reviewer, ready)


def test_reclassification_keeps_an_extended_due_date(qa_approver, supervisor, operator, site):
    dev = raise_one(operator, site)
    services.classify_deviation(
        actor=supervisor, deviation_id=dev.pk, classification="minor", justification="j"
    )
    extend(qa_approver, dev)
    extended = DeviationExtension.objects.get().new_due_date
    dev = services.classify_deviation(
        actor=supervisor,
        deviation_id=dev.pk,
        classification="major",
        justification="j2",
        reason="More lots affected",
    )
    assert dev.due_date == extended
