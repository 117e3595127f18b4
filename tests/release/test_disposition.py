"""QA disposition: who may, when, what follows what; exceptional release; shippability."""

from __future__ import annotations

import pytest

from tests.release.conftest import (
    PASSWORD,
    Line,
    blocked,
    completed,
    release,
    unchanged,
)
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.errors import (
    Conflict,
    InterlockBlocked,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.models import Signature
from vein2vein.release import selectors, services
from vein2vein.release.models import ClinicalNotice

pytestmark = pytest.mark.django_db

PHYSICIAN = {
    "exceptional": True,
    "physician_name": "Dr. Rivera",
    "physician_requested_at": "2026-12-01T09:00:00+00:00",
    "physician_reference": "Letter LUH-ONC-2026-118",
}


def oos(qc_state) -> None:  # type: ignore[no-untyped-def]
    qc_state.lines[0] = Line("Endotoxin", "QCM-ENDO v1", "<= 5.0 EU/mL", "7.2 EU/mL", "out_of_spec")


def test_a_ready_batch_is_released_signed_and_shippable(mfg, ready_batch) -> None:
    d = release(mfg, ready_batch)
    assert d.decision == "release" and not d.exceptional
    assert d.readiness["ready"] is True
    sig = Signature.objects.get(record_type="release.disposition", record_id=str(d.pk))
    assert (sig.meaning, sig.signer) == ("released", mfg.approver)
    assert selectors.is_shippable(ready_batch.pk)
    ready_batch.order.refresh_from_db()
    assert ready_batch.order.status == "released"
    assert verify_chain().ok


def test_a_not_ready_batch_is_refused_for_release(mfg, received, qc_state) -> None:
    b = completed(mfg, received())  # not reviewed
    with blocked() as events, pytest.raises(InterlockBlocked) as exc:
        release(mfg, b)
    assert exc.value.field == "batch_id"
    assert "not ready" in exc.value.message and "has not signed its review" in exc.value.message
    assert events[0].record_id == str(b.pk)
    assert not selectors.is_shippable(b.pk)


def test_out_of_spec_is_refused_for_an_ordinary_release(mfg, ready_batch, qc_state) -> None:
    oos(qc_state)
    with blocked(), pytest.raises(InterlockBlocked, match="Endotoxin: out of specification"):
        release(mfg, ready_batch)


@pytest.mark.parametrize("who", ["operator", "verifier"])
def test_the_batch_own_operator_or_verifier_is_refused_as_releaser(
    mfg, ready_batch, make_user, who
) -> None:
    person = getattr(mfg, who)
    from tests.core.factories import grant

    grant(person, Role.QA_APPROVER, mfg.w.mfg)
    with unchanged(), pytest.raises(SignatureRefused, match="a different QA approver"):
        release(mfg, ready_batch, actor=person)


def test_a_user_who_is_not_a_qa_approver_is_refused(mfg, ready_batch) -> None:
    with unchanged(), pytest.raises(PermissionRefused, match=r"release\.dispose"):
        release(mfg, ready_batch, actor=mfg.qa)  # a QA reviewer


def test_a_wrong_password_is_refused(mfg, ready_batch) -> None:
    with pytest.raises(SignatureRefused, match="password is incorrect"):
        release(mfg, ready_batch, password="wrong")
    assert not selectors.dispositions_of(ready_batch.pk)


@pytest.mark.parametrize(
    ("missing", "field"),
    [
        ("physician_name", "physician_name"),
        ("physician_requested_at", "physician_requested_at"),
        ("physician_reference", "physician_reference"),
    ],
)
def test_exceptional_release_without_the_physician_request_is_refused(
    mfg, ready_batch, qc_state, missing, field
) -> None:
    oos(qc_state)
    kw = {**PHYSICIAN, missing: ""}
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        release(mfg, ready_batch, **kw)
    assert exc.value.field == field


def test_exceptional_release_without_a_justification_is_refused(mfg, ready_batch, qc_state) -> None:
    oos(qc_state)
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        release(mfg, ready_batch, reason="  ", **PHYSICIAN)
    assert exc.value.field == "reason"


def test_exceptional_release_of_an_in_spec_batch_is_refused(mfg, ready_batch) -> None:
    with unchanged(), pytest.raises(Conflict, match="release it normally"):
        release(mfg, ready_batch, **PHYSICIAN)


def test_exceptional_release_does_not_cover_missing_results(mfg, ready_batch, qc_state) -> None:
    oos(qc_state)
    qc_state.lines[1] = Line("Viability", "QCM-VIA v2", ">= 70 %", None, "missing")
    with blocked(), pytest.raises(InterlockBlocked, match="out-of-specification results only"):
        release(mfg, ready_batch, **PHYSICIAN)


def test_exceptional_release_signs_its_own_meaning_and_notifies_the_clinical_site(
    mfg, ready_batch, qc_state
) -> None:
    oos(qc_state)
    d = release(mfg, ready_batch, reason="No alternative therapy; risk accepted", **PHYSICIAN)
    assert d.exceptional and d.physician_name == "Dr. Rivera"
    sig = Signature.objects.get(record_type="release.disposition", record_id=str(d.pk))
    assert sig.meaning == "exceptional_release"
    notice = ClinicalNotice.objects.get(disposition=d)
    assert notice.site == ready_batch.order.ordering_site
    assert "Endotoxin: out of specification" in notice.text
    assert "Letter LUH-ONC-2026-118" in notice.text
    # The clinical site's users see it; the manufacturing operator does not.
    assert list(selectors.notices_for(mfg.w.clinician)) == [notice]
    assert not selectors.notices_for(mfg.operator).exists()
    assert selectors.shippable(ready_batch.pk).reason.startswith("released exceptionally")
    assert verify_chain().ok


def test_a_rejected_batch_is_never_shippable_nor_releasable(mfg, ready_batch) -> None:
    d = release(mfg, ready_batch, decision="reject", reason="Container integrity failure")
    assert Signature.objects.get(
        record_type="release.disposition", record_id=str(d.pk)
    ).meaning == ("rejected")
    s = selectors.shippable(ready_batch.pk)
    assert not s and "rejected" in s.reason
    ready_batch.order.refresh_from_db()
    assert ready_batch.order.status == "rejected"
    for decision in ("release", "hold", "reject"):
        with unchanged(), pytest.raises(Conflict) as exc:
            release(mfg, ready_batch, decision=decision)
        assert exc.value.field == "decision"
    assert not selectors.is_shippable(ready_batch.pk)


def test_a_hold_is_followed_by_a_release_never_overwritten(mfg, ready_batch) -> None:
    hold = release(mfg, ready_batch, decision="hold", reason="Awaiting a courier slot check")
    assert not selectors.is_shippable(ready_batch.pk)
    assert "quarantine hold" in selectors.shippable(ready_batch.pk).reason
    done = release(mfg, ready_batch)
    assert done.follows == hold
    assert [d.decision for d in selectors.dispositions_of(ready_batch.pk)] == ["hold", "release"]
    assert selectors.is_shippable(ready_batch.pk)
    with unchanged(), pytest.raises(Conflict):
        release(mfg, ready_batch, decision="reject", reason="changed mind")


def test_an_unknown_decision_names_the_field(mfg, ready_batch) -> None:
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        release(mfg, ready_batch, decision="ship")
    assert exc.value.field == "decision"


def test_a_physician_request_on_an_ordinary_release_is_refused(mfg, ready_batch) -> None:
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        release(mfg, ready_batch, physician_name="Dr. Rivera")
    assert exc.value.field == "exceptional"


def test_services_dispose_is_keyword_only() -> None:
    import inspect

    params = inspect.signature(services.dispose).parameters.values()
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    _ = PASSWORD


def test_only_a_disposition_carries_the_exceptional_release_meaning() -> None:
    """The general Sign… route could sign a site 'released exceptionally' (found in review)."""
    from vein2vein.core.signing import signable_types

    carriers = [t for t, s in signable_types().items() if "exceptional_release" in s.meanings]
    assert carriers == ["release.disposition"]
