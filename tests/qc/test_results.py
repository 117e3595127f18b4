"""Results: entry gates (training, equipment), evaluation, automatic OOS in the same
transaction, four-eyes review, invalidation (reason + QA approval), retest linking."""

from __future__ import annotations

from unittest import mock

import pytest

from tests.conftest import PASSWORD
from tests.qc.conftest import Lab, unchanged
from vein2vein.core.audit import verify_chain
from vein2vein.core.errors import (
    Conflict,
    DomainError,
    InterlockBlocked,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.equipment import services as equipment
from vein2vein.qc import services
from vein2vein.qc.models import OosInvestigation, TestResult
from vein2vein.quality.models import Deviation


def _endo(lab: Lab, value: str = "0.2", **kw: object) -> TestResult:
    return services.enter_result(
        actor=lab.analyst, sample_id=lab.sample.pk, method="ENDO", value=value, **kw
    )


def test_an_in_spec_result_waits_for_review(lab: Lab) -> None:
    r = _endo(lab, "0.5")  # the limit itself meets "≤ 0.5"
    assert (r.evaluation, r.status, r.printed) == ("in_spec", "awaiting_review", "0.5 EU/mL")
    assert r.method_version.version == 1
    assert not OosInvestigation.objects.exists()
    assert verify_chain().ok


def test_an_out_of_spec_result_opens_its_oos_investigation(lab: Lab) -> None:
    r = _endo(lab, "0.8")
    assert r.evaluation == "out_of_spec"
    oos = OosInvestigation.objects.get(result=r)
    assert oos.phase == "phase_i"
    dev = Deviation.objects.get(pk=oos.deviation_id)
    assert dev.category == "oos"
    assert (dev.source_type, dev.source_id) == ("qc.testresult", str(r.pk))
    assert "0.8 EU/mL" in dev.title


def test_the_oos_investigation_is_in_the_results_transaction(lab: Lab) -> None:
    """A failure opening the investigation rolls the result back with it."""
    with (
        unchanged(),
        mock.patch(
            "vein2vein.qc.services.results.OosInvestigation.objects.create",
            side_effect=RuntimeError("boom"),
        ),
        pytest.raises(RuntimeError),
    ):
        _endo(lab, "0.8")
    assert not TestResult.objects.exists()
    assert not Deviation.objects.exists()


def test_each_criterion_kind_is_judged(lab: Lab) -> None:
    s = lab.sample.pk
    a = lab.analyst
    appearance = services.enter_result(actor=a, sample_id=s, method="APP", text="does not conform")
    sterile = services.enter_result(actor=a, sample_id=s, method="STER", text="Not detected")
    vcn = services.enter_result(actor=a, sample_id=s, method="VCN", value="5.0")
    viab = services.enter_result(
        actor=a, sample_id=s, method="VIAB", value="69.9", equipment_id=lab.counter.equipment_id
    )
    assert [r.evaluation for r in (appearance, sterile, vcn, viab)] == [
        "out_of_spec",
        "in_spec",
        "in_spec",
        "out_of_spec",
    ]
    assert OosInvestigation.objects.count() == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"value": "abc"}, "value"),
        ({"value": "0.2", "unit": "ng/mL"}, "unit"),
        ({"text": "pass"}, "value"),
        ({"method": "NOPE", "value": "1"}, "method"),
    ],
)
def test_bad_input_names_the_field(lab: Lab, kwargs: dict[str, str], field: str) -> None:
    args = {"method": "ENDO", **kwargs}
    with unchanged(), pytest.raises(DomainError) as exc:
        services.enter_result(actor=lab.analyst, sample_id=lab.sample.pk, **args)  # type: ignore[arg-type]
    assert exc.value.field == field


def test_an_untrained_analyst_is_refused(lab: Lab) -> None:
    with unchanged(blocked="qc.result.enter"), pytest.raises(InterlockBlocked):
        services.enter_result(
            actor=lab.untrained, sample_id=lab.sample.pk, method="ENDO", value="0.1"
        )


def test_unusable_equipment_is_refused(lab: Lab) -> None:
    equipment.change_status(
        actor=lab.m.w.supervisor,
        equipment_id=lab.counter.equipment_id,
        status="out_of_service",
        reason="Broken",
    )
    with unchanged(blocked="qc.result.enter"), pytest.raises(InterlockBlocked):
        services.enter_result(
            actor=lab.analyst,
            sample_id=lab.sample.pk,
            method="VIAB",
            value="90",
            equipment_id=lab.counter.equipment_id,
        )


def test_equipment_of_the_wrong_kind_is_refused(lab: Lab) -> None:
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.enter_result(
            actor=lab.analyst,
            sample_id=lab.sample.pk,
            method="VIAB",
            value="90",
            equipment_id=lab.cytometer.equipment_id,
        )
    assert exc.value.field == "equipment_id"


def test_an_operator_may_not_enter_results(lab: Lab) -> None:
    with unchanged(), pytest.raises(PermissionRefused):
        services.enter_result(
            actor=lab.m.operator, sample_id=lab.sample.pk, method="ENDO", value="0.1"
        )


def test_a_second_analyst_reviews_with_a_signature(lab: Lab) -> None:
    r = services.review_result(actor=lab.analyst2, result_id=_endo(lab).pk, password=PASSWORD)
    assert (r.status, r.reviewed_by) == ("reviewed", lab.analyst2)
    sig = Signature.objects.get(record_type="qc.testresult", record_id=str(r.pk))
    assert sig.meaning == "reviewed"
    event = AuditEvent.objects.filter(action="qc.result.reviewed").get()
    assert set(event.changes) == {"status", "reviewed_by", "reviewed_at"}  # all it stored
    assert verify_chain().ok


def test_the_analyst_cannot_review_their_own_result(lab: Lab) -> None:
    r = _endo(lab)
    with unchanged(blocked="qc.result.review"), pytest.raises(InterlockBlocked) as exc:
        services.review_result(actor=lab.analyst, result_id=r.pk, password=PASSWORD)
    assert exc.value.field == "password"


def test_a_wrong_password_is_refused(lab: Lab) -> None:
    r = _endo(lab)
    with pytest.raises(SignatureRefused):
        services.review_result(actor=lab.analyst2, result_id=r.pk, password="wrong")
    r.refresh_from_db()
    assert r.status == "awaiting_review"
    assert verify_chain().ok


def test_invalidation_needs_a_reason_and_qa_approval(lab: Lab) -> None:
    r = _endo(lab, "0.9")
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.request_invalidation(actor=lab.analyst, result_id=r.pk, reason=" ")
    assert exc.value.field == "reason"
    services.request_invalidation(actor=lab.analyst, result_id=r.pk, reason="Pipetting error")
    with pytest.raises(PermissionRefused):
        services.approve_invalidation(actor=lab.analyst2, result_id=r.pk, password=PASSWORD)
    r = services.approve_invalidation(actor=lab.qa, result_id=r.pk, password=PASSWORD)
    assert (r.status, r.invalidation_reason, r.invalidated_by) == (
        "invalidated",
        "Pipetting error",
        lab.qa,
    )
    assert Signature.objects.filter(record_id=str(r.pk), meaning="approved").exists()
    event = AuditEvent.objects.filter(action="qc.result.invalidated").get()
    assert set(event.changes) == {"status", "invalidated_by", "invalidated_at"}
    assert verify_chain().ok


def test_a_retest_links_to_the_original_which_stays(lab: Lab) -> None:
    first = _endo(lab, "0.9")
    retest = _endo(lab, "0.1", retest_of_id=first.pk)
    assert retest.retest_of == first
    first.refresh_from_db()
    assert first.printed == "0.9 EU/mL" and first.status == "awaiting_review"
    assert list(first.retests.all()) == [retest]  # type: ignore[attr-defined]


def test_a_retest_of_another_test_is_refused(lab: Lab) -> None:
    first = _endo(lab, "0.2")
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.enter_result(
            actor=lab.analyst,
            sample_id=lab.sample.pk,
            method="VCN",
            value="1",
            retest_of_id=first.pk,
        )
    assert exc.value.field == "retest_of_id"


def test_oos_phase_i_without_cause_opens_phase_ii(lab: Lab) -> None:
    oos = OosInvestigation.objects.get(result=_endo(lab, "0.9"))
    oos = services.conclude_phase_i(
        actor=lab.analyst2, oos_id=oos.pk, assignable_cause=False, summary="No lab error found"
    )
    assert oos.phase == "phase_ii"
    oos = services.conclude_phase_ii(actor=lab.qa, oos_id=oos.pk, summary="Process cause")
    assert oos.phase == "concluded"
    with pytest.raises(Conflict):
        services.conclude_phase_ii(actor=lab.qa, oos_id=oos.pk, summary="again")
    assert verify_chain().ok
