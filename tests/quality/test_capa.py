"""CAPA: actions with owners and evidence, the signed effectiveness check, closure interlocks."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from axes.models import AccessAttempt

from tests.conftest import PASSWORD
from tests.quality.factories import capa_with_action, in_days, investigating, raise_one
from tests.quality.helpers import only_blocked, unchanged
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.errors import (
    Conflict,
    InterlockBlocked,
    NotFound,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.core.signing import is_valid
from vein2vein.core.time import now
from vein2vein.quality import selectors, services
from vein2vein.quality.models import CapaDeviation


def plan(manager, capa):  # type: ignore[no-untyped-def]
    return services.plan_effectiveness_check(
        actor=manager, capa_id=capa.pk, due_date=in_days(90), criteria="No recurrence in 90 days"
    )


def check(actor, chk, result="pass", password=PASSWORD, comment=""):  # type: ignore[no-untyped-def]
    return services.record_effectiveness_check(
        actor=actor, check_id=chk.pk, result=result, password=password, comment=comment
    )


# --- create and link ------------------------------------------------------------------------
def test_capa_for_a_deviation_is_numbered_and_linked_both_ways(supervisor, operator, site):
    dev = investigating(supervisor, site, raised_by=operator)
    capa = services.create_capa(
        actor=supervisor, title="Label control", description="d", deviation_ids=[dev.pk, dev.pk]
    )
    assert capa.number.startswith("CAPA-") and capa.number.endswith("-0001")
    assert (capa.site, capa.owner, capa.status) == (site, supervisor, "open")
    assert list(dev.capas.all()) == [capa]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"quality.capa.created", "quality.capa.deviation_linked"} <= actions
    assert "quality.deviation.capa_linked" in actions
    with unchanged(), pytest.raises(ValidationFailed, match="already linked") as exc:
        services.link_deviation(actor=supervisor, capa_id=capa.pk, deviation_id=dev.pk)
    assert exc.value.field == "deviation_id"
    other = raise_one(operator, site)
    services.link_deviation(actor=supervisor, capa_id=capa.pk, deviation_id=other.pk)
    assert CapaDeviation.objects.filter(capa=capa).count() == 2


def test_standalone_capa_needs_a_site(supervisor, site):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.create_capa(actor=supervisor, title="t", description="d")
    assert exc.value.field == "site_id"
    capa = services.create_capa(actor=supervisor, title="t", description="d", site_id=site.pk)
    assert capa.deviations.count() == 0


@pytest.mark.parametrize(
    "role", [Role.OPERATOR, Role.QC_ANALYST, Role.VERIFIER, Role.ADMIN, Role.INSPECTOR]
)
def test_only_managers_open_a_capa(make_user, site, role):
    actor = make_user(role)
    with unchanged(), pytest.raises(PermissionRefused, match=r"quality\.capa\.manage"):
        services.create_capa(actor=actor, title="t", description="d", site_id=site.pk)


def test_a_capa_is_not_linked_to_a_finished_deviation(supervisor, operator, site):
    dev = raise_one(operator, site)
    services.cancel_deviation(actor=supervisor, deviation_id=dev.pk, reason="dup")
    with unchanged(), pytest.raises(Conflict) as exc:
        services.create_capa(actor=supervisor, title="t", description="d", deviation_ids=[dev.pk])
    assert exc.value.field == "deviation_ids"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("title", "", ValidationFailed),
        ("description", "", ValidationFailed),
        ("owner_id", 999999, NotFound),
        ("owner_id", "me", ValidationFailed),
    ],
)
def test_bad_capa_input_names_the_field(supervisor, site, field, value, error):
    values = {"title": "t", "description": "d", "site_id": site.pk, field: value}
    with unchanged(), pytest.raises(error) as exc:
        services.create_capa(actor=supervisor, **values)
    assert exc.value.field == field


def test_an_owner_must_work_at_the_site(supervisor, make_user, make_site, site):
    elsewhere = make_user(Role.OPERATOR, at=make_site(code="ELSEWHERE"))
    capa = services.create_capa(actor=supervisor, title="t", description="d", site_id=site.pk)
    with unchanged(), pytest.raises(ValidationFailed, match="no GMP role") as exc:
        services.add_action(
            actor=supervisor,
            capa_id=capa.pk,
            kind="preventive",
            description="d",
            owner_id=elsewhere.pk,
            due_date=in_days(5),
        )
    assert exc.value.field == "owner_id"


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "corrective-ish"), ("description", " "), ("due_date", "2026-01-01")],
)
def test_bad_action_input_names_the_field(supervisor, operator, site, field, value):
    capa = services.create_capa(actor=supervisor, title="t", description="d", site_id=site.pk)
    values = {
        "kind": "corrective",
        "description": "d",
        "owner_id": operator.pk,
        "due_date": in_days(3),
        field: value,
    }
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.add_action(actor=supervisor, capa_id=capa.pk, **values)
    assert exc.value.field == field


# --- actions --------------------------------------------------------------------------------
def test_owner_works_the_action_with_evidence(supervisor, operator, operator2, site):
    _, action = capa_with_action(supervisor, operator, site=site)
    with unchanged(), pytest.raises(PermissionRefused):
        services.start_action(actor=operator2, action_id=action.pk)
    action = services.start_action(actor=operator, action_id=action.pk)
    assert action.status == "in_progress"
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.complete_action(actor=operator, action_id=action.pk, evidence="")
    assert exc.value.field == "evidence"
    action = services.complete_action(
        actor=operator, action_id=action.pk, evidence="SOP revised", evidence_ref="SOP-0042 v4"
    )
    assert (action.status, action.completed_by, action.evidence_ref) == (
        "done",
        operator,
        "SOP-0042 v4",
    )
    with unchanged(), pytest.raises(Conflict, match="cannot become"):
        services.complete_action(actor=operator, action_id=action.pk, evidence="again")
    with unchanged(), pytest.raises(Conflict):
        services.cancel_action(actor=supervisor, action_id=action.pk, reason="r")


def test_a_manager_may_complete_someone_elses_action(supervisor, operator, site):
    _, action = capa_with_action(supervisor, operator, site=site)
    action = services.complete_action(actor=supervisor, action_id=action.pk, evidence="Done")
    assert action.completed_by == supervisor


def test_cancelling_an_action_needs_a_reason_and_a_manager(supervisor, operator, site):
    _, action = capa_with_action(supervisor, operator, site=site)
    with unchanged(), pytest.raises(PermissionRefused):
        services.cancel_action(actor=operator, action_id=action.pk, reason="r")
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.cancel_action(actor=supervisor, action_id=action.pk, reason="")
    assert exc.value.field == "reason"
    action = services.cancel_action(actor=supervisor, action_id=action.pk, reason="Not needed")
    assert (action.status, action.cancel_reason) == ("cancelled", "Not needed")


def test_inspector_cannot_work_an_action(supervisor, operator, inspector, site):
    _, action = capa_with_action(supervisor, operator, site=site)
    with unchanged(), pytest.raises(PermissionRefused):
        services.complete_action(actor=inspector, action_id=action.pk, evidence="x")


# --- effectiveness check --------------------------------------------------------------------
def test_effectiveness_check_is_signed_by_someone_independent(
    supervisor, operator, qa_reviewer, site
):
    capa, action = capa_with_action(supervisor, qa_reviewer, site=site)
    chk = plan(supervisor, capa)
    with unchanged(), pytest.raises(Conflict) as exc:
        plan(supervisor, capa)
    assert exc.value.field == "capa_id"
    with unchanged(), pytest.raises(Conflict, match="no action done"):
        check(qa_reviewer, chk)
    services.complete_action(actor=qa_reviewer, action_id=action.pk, evidence="e")
    # The action's owner may not judge its effectiveness.
    with unchanged(), pytest.raises(SignatureRefused, match="independent"):
        check(qa_reviewer, chk)


def test_effectiveness_check_pass_signed_reviewed(supervisor, operator, qa_reviewer, site):
    capa, action = capa_with_action(supervisor, operator, site=site)
    services.complete_action(actor=operator, action_id=action.pk, evidence="e")
    chk = plan(supervisor, capa)
    chk = check(qa_reviewer, chk, comment="No recurrence")
    assert (chk.result, chk.checked_by) == ("pass", qa_reviewer)
    sig = Signature.objects.get()
    assert (sig.meaning, sig.record_type, sig.signer) == (
        "reviewed",
        "quality.effectivenesscheck",
        qa_reviewer,
    )
    assert is_valid(sig, chk)
    with unchanged(), pytest.raises(Conflict, match="already has its result"):
        check(qa_reviewer, chk)


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.INSPECTOR])
def test_only_qa_checks_effectiveness(make_user, supervisor, operator, site, role):
    capa, action = capa_with_action(supervisor, operator, site=site)
    services.complete_action(actor=operator, action_id=action.pk, evidence="e")
    chk = plan(supervisor, capa)
    actor = make_user(role)
    with unchanged(), pytest.raises(PermissionRefused, match=r"quality\.capa\.effectiveness"):
        check(actor, chk)


def test_effectiveness_check_input_and_password(supervisor, operator, qa_reviewer, site):
    capa, action = capa_with_action(supervisor, operator, site=site)
    services.complete_action(actor=operator, action_id=action.pk, evidence="e")
    chk = plan(supervisor, capa)
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        check(qa_reviewer, chk, result="maybe")
    assert exc.value.field == "result"
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        check(qa_reviewer, chk, result="fail")
    assert exc.value.field == "comment", "a failed check says why"
    with unchanged(), pytest.raises(SignatureRefused, match="incorrect"):
        check(qa_reviewer, chk, password="wrong")
    assert AccessAttempt.objects.get(username=qa_reviewer.username).failures_since_start == 1
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.plan_effectiveness_check(
            actor=supervisor, capa_id=capa.pk, due_date=in_days(5), criteria=""
        )
    assert exc.value.field == "criteria"


# --- closure --------------------------------------------------------------------------------
def test_capa_closes_only_after_actions_done_and_a_passed_check(
    supervisor, operator, qa_reviewer, qa_approver, site
):
    capa, action = capa_with_action(supervisor, operator, site=site)
    with only_blocked("quality.capa.close"), pytest.raises(InterlockBlocked, match="not done"):
        services.close_capa(actor=qa_approver, capa_id=capa.pk)
    services.complete_action(actor=operator, action_id=action.pk, evidence="e")
    with only_blocked("quality.capa.close"), pytest.raises(InterlockBlocked, match="none planned"):
        services.close_capa(actor=qa_approver, capa_id=capa.pk)
    chk = plan(supervisor, capa)
    with only_blocked("quality.capa.close"), pytest.raises(InterlockBlocked, match="no result"):
        services.close_capa(actor=qa_approver, capa_id=capa.pk)
    check(qa_reviewer, chk, result="fail", comment="Recurred in week 2")
    with only_blocked("quality.capa.close"), pytest.raises(InterlockBlocked, match="fail"):
        services.close_capa(actor=qa_approver, capa_id=capa.pk)
    # More action, a new check that passes, then closure.
    more = services.add_action(
        actor=supervisor,
        capa_id=capa.pk,
        kind="preventive",
        description="Add a second-person label check",
        owner_id=operator.pk,
        due_date=in_days(10),
    )
    services.complete_action(actor=operator, action_id=more.pk, evidence="Check added")
    check(qa_reviewer, plan(supervisor, capa))
    capa = services.close_capa(actor=qa_approver, capa_id=capa.pk, comment="Effective")
    assert (capa.status, capa.closed_by) == ("closed", qa_approver)
    with unchanged(), pytest.raises(Conflict):
        services.add_action(
            actor=supervisor,
            capa_id=capa.pk,
            kind="corrective",
            description="late",
            owner_id=operator.pk,
            due_date=in_days(3),
        )
    assert verify_chain().ok


def test_a_capa_with_only_cancelled_actions_does_not_close(supervisor, operator, qa_approver, site):
    capa, action = capa_with_action(supervisor, operator, site=site)
    services.cancel_action(actor=supervisor, action_id=action.pk, reason="Wrong action")
    with only_blocked("quality.capa.close"), pytest.raises(InterlockBlocked, match="no action"):
        services.close_capa(actor=qa_approver, capa_id=capa.pk)


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR, Role.INSPECTOR, Role.ADMIN])
def test_only_qa_closes_a_capa(make_user, supervisor, operator, site, role):
    capa, _ = capa_with_action(supervisor, operator, site=site)
    actor = make_user(role)
    with unchanged(), pytest.raises(PermissionRefused, match=r"quality\.capa\.close"):
        services.close_capa(actor=actor, capa_id=capa.pk)


def test_cancel_capa_needs_a_reason(supervisor, operator, site):
    capa, _ = capa_with_action(supervisor, operator, site=site)
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.cancel_capa(actor=supervisor, capa_id=capa.pk, reason="")
    assert exc.value.field == "reason"
    with unchanged(), pytest.raises(PermissionRefused):
        services.cancel_capa(actor=operator, capa_id=capa.pk, reason="r")
    capa = services.cancel_capa(actor=supervisor, capa_id=capa.pk, reason="Duplicate")
    assert capa.status == "cancelled"
    with unchanged(), pytest.raises(Conflict):
        services.cancel_capa(actor=supervisor, capa_id=capa.pk, reason="again")


def test_overdue_actions_and_the_capa_list_filters(supervisor, operator, site):
    capa, action = capa_with_action(supervisor, operator, site=site)
    assert not capa.is_overdue and not action.is_overdue
    later = now() + dt.timedelta(days=20)
    with mock.patch("django.utils.timezone.now", return_value=later):
        action.refresh_from_db()
        assert action.is_overdue and capa.is_overdue
        assert [c.pk for c in selectors.capas(overdue=True)] == [capa.pk]
        assert [a.pk for a in selectors.overdue().actions] == [action.pk]
    assert [c.pk for c in selectors.capas(owner=operator)] == [capa.pk]
    assert [c.pk for c in selectors.capas(status="open")] == [capa.pk]
    assert list(selectors.capas(status="closed")) == []
