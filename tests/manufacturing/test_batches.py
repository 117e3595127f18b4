"""A batch's life through the services: only an effective MBR starts one and the batch keeps
its version; start, complete, hold, abort and review refusals; who may do what."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from tests.manufacturing.conftest import (
    PASSWORD,
    TEST_MBR,
    Mfg,
    blocked,
    run,
    unchanged,
)
from vein2vein.chain import services as chain
from vein2vein.chain.models import Patient, TherapyOrder
from vein2vein.core import signing
from vein2vein.core.choices import Role
from vein2vein.core.errors import (
    Conflict,
    DomainError,
    InterlockBlocked,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.models import User
from vein2vein.documents import services as documents
from vein2vein.equipment.models import Usage
from vein2vein.manufacturing import services
from vein2vein.manufacturing.models import Batch, MasterRecord

Walk = Callable[..., TherapyOrder]


def other_order(mfg: Mfg, walk: Walk, stage: str = "received") -> TherapyOrder:
    """An order of another patient (one open order per patient and product)."""
    w = mfg.w
    patient = chain.enroll_patient(
        actor=w.clinician,
        site_id=w.clinic.pk,
        site_patient_id=f"LUH-{Patient.objects.count() + 900:06d}",
        given_name="Other",
        family_name="Patient",
        date_of_birth="1980-05-06",
        weight_kg="80",
        diagnosis="Relapsed diffuse large B-cell lymphoma",
        consent_status="consented",
        consent_date="2026-01-10",
    )
    return walk(stage, patient=patient)


def refused(
    error: type[DomainError], call: Callable[[], object], field: str | None, text: str
) -> DomainError:
    with unchanged(), pytest.raises(error) as caught:
        call()
    assert caught.value.field == field, caught.value.message
    assert text in caught.value.message, caught.value.message
    return caught.value


def start_refused(mfg: Mfg, order: TherapyOrder, mr: MasterRecord, status: str) -> None:
    """An MBR that is not effective does not start a batch: an interlock, recorded on the
    order (there is no batch yet); the order stays received."""
    with (
        blocked(None, "manufacturing.batch.start") as events,  # type: ignore[arg-type]
        pytest.raises(InterlockBlocked) as e,
    ):
        services.start_batch(actor=mfg.operator, order_id=order.pk, master_record_id=mr.pk)
    assert e.value.field == "master_record_id"
    assert f"is {status}, not effective" in e.value.message, e.value.message
    assert (events[0].record_type, events[0].record_id) == ("chain.therapyorder", str(order.pk))


def new_version(mfg: Mfg, text: str, document_id: int | None = None) -> MasterRecord:
    """Import a draft MBR version (of a new document, or a new version of `document_id`)."""
    return services.import_master_record(
        actor=mfg.w.supervisor,
        yaml_text=text,
        change_summary="Process 1.0",
        title="Test MBR",
        document_id=document_id,
    )


def make_effective(mfg: Mfg, mr: MasterRecord) -> MasterRecord:
    pk = mr.document_version.pk
    documents.submit_for_review(actor=mfg.w.supervisor, version_id=pk)
    documents.review_version(actor=mfg.qa, version_id=pk, password=PASSWORD)
    documents.approve_version(actor=mfg.approver, version_id=pk, password=PASSWORD)
    mr.refresh_from_db()
    mr.document_version.refresh_from_db()
    return mr


V2 = TEST_MBR.replace('process_version: "0.9"', 'process_version: "1.0"')


# --- which MBR starts a batch ----------------------------------------------------------------


def test_a_draft_or_in_review_mbr_starts_no_batch(
    mfg: Mfg, received: Callable[..., TherapyOrder]
) -> None:
    order = received()
    draft = new_version(mfg, V2)
    assert draft.document_version.status == "draft"
    start_refused(mfg, order, draft, "draft")
    documents.submit_for_review(actor=mfg.w.supervisor, version_id=draft.document_version.pk)
    start_refused(mfg, order, draft, "in review")
    order.refresh_from_db()
    assert order.status == "received"
    # The effective MBR starts it.
    assert services.start_batch(actor=mfg.operator, order_id=order.pk).master_record == mfg.mbr


def test_a_batch_keeps_its_mbr_version_and_a_superseded_version_starts_no_batch(
    mfg: Mfg, batch: Batch, walk: Walk
) -> None:
    v1 = mfg.mbr
    v2 = make_effective(mfg, new_version(mfg, V2, document_id=v1.document_version.document_id))
    assert (v2.document_version.version, v2.document_version.status) == (2, "effective")
    v1.document_version.refresh_from_db()
    assert v1.document_version.status == "superseded"
    assert services.effective_master_record(mfg.w.product) == v2
    # The running batch stays on version 1 to the end.
    run(mfg, batch)
    services.complete_batch(actor=mfg.operator, batch_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.master_record, batch.master_record.process_version) == (v1, "0.9")
    # A new batch may not be started from version 1 any more; by default it gets version 2.
    order = other_order(mfg, walk)
    start_refused(mfg, order, v1, "superseded")
    new = services.start_batch(actor=mfg.operator, order_id=order.pk)
    assert (new.master_record, new.master_record.process_version) == (v2, "1.0")


def test_start_is_refused_for_an_order_not_received_or_already_started(
    mfg: Mfg, batch: Batch, walk: Walk
) -> None:
    in_transit = other_order(mfg, walk, "in_transit")
    refused(
        Conflict,
        lambda: services.start_batch(actor=mfg.operator, order_id=in_transit.pk),
        "order_id",
        "is in transit: a batch starts from received, accepted material",
    )
    assert batch.order is not None
    refused(
        Conflict,
        lambda: services.start_batch(actor=mfg.operator, order_id=batch.order_id),
        "order_id",
        f"order {batch.order.coi}",
    )
    assert Batch.objects.count() == 1


# --- permissions -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["qc", "inspector"])
def test_who_may_not_do_what(mfg: Mfg, batch: Batch, role: str) -> None:
    user = mfg.w.qc if role == "qc" else mfg.w.inspector
    run(mfg, batch, until="cells")
    entry = services.record_step(
        actor=mfg.operator, batch_id=batch.pk, step_key="cells", value="120000000"
    )
    b = batch.pk
    calls: dict[str, Callable[[], Any]] = {
        "start": lambda: services.start_batch(actor=user, order_id=batch.order_id),
        "record": lambda: services.record_step(
            actor=user, batch_id=b, step_key="vector", scan="LOT-V1"
        ),
        "correct": lambda: services.correct_entry(
            actor=user, entry_id=entry.pk, reason="typo", value="130000000"
        ),
        "hold": lambda: services.hold_batch(actor=user, batch_id=b, reason="why"),
        "resume": lambda: services.resume_batch(actor=user, batch_id=b, reason="why"),
        "complete": lambda: services.complete_batch(actor=user, batch_id=b),
        "abort": lambda: services.abort_batch(
            actor=user, batch_id=b, reason="why", password=PASSWORD
        ),
        "review": lambda: services.review_batch(actor=user, batch_id=b, password=PASSWORD),
        "import": lambda: services.import_master_record(
            actor=user, yaml_text=V2, change_summary="x", title="Mine"
        ),
    }
    if role == "inspector":  # a QC analyst may verify (as the second person)
        calls["verify"] = lambda: services.verify_entry(
            actor=user, entry_id=entry.pk, password=PASSWORD
        )
    for name, call in calls.items():
        with unchanged(), pytest.raises(PermissionRefused):
            call()
        assert name  # every service refused


# --- complete, hold, abort -------------------------------------------------------------------


def test_complete_is_refused_while_a_step_is_open_or_unverified(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="sign")
    refused(
        Conflict,
        lambda: services.complete_batch(actor=mfg.operator, batch_id=batch.pk),
        "batch_id",
        "has 1 step(s) not done or not verified: sign",
    )
    entry = services.record_step(
        actor=mfg.operator, batch_id=batch.pk, step_key="sign", password=PASSWORD
    )
    refused(
        Conflict,
        lambda: services.complete_batch(actor=mfg.operator, batch_id=batch.pk),
        "batch_id",
        "not done or not verified: sign",
    )
    services.verify_entry(actor=mfg.verifier, entry_id=entry.pk, password=PASSWORD)
    assert services.complete_batch(actor=mfg.operator, batch_id=batch.pk).status == "completed"


def test_hold_needs_a_reason_and_an_in_progress_batch(mfg: Mfg, batch: Batch) -> None:
    hold = services.hold_batch
    refused(
        ValidationFailed,
        lambda: hold(actor=mfg.operator, batch_id=batch.pk, reason=""),
        "reason",
        "",
    )
    held = hold(actor=mfg.operator, batch_id=batch.pk, reason="Power cut")
    assert (held.status, held.hold_reason) == ("on_hold", "Power cut")
    refused(
        Conflict,
        lambda: hold(actor=mfg.operator, batch_id=batch.pk, reason="again"),
        "batch_id",
        "is on hold: it cannot become on hold",
    )
    refused(
        Conflict,
        lambda: services.complete_batch(actor=mfg.operator, batch_id=batch.pk),
        "batch_id",
        "is on hold: it cannot become completed",
    )


def abort(b: Batch, actor: User, reason: str = "Contaminated", password: str = PASSWORD) -> Batch:
    return services.abort_batch(actor=actor, batch_id=b.pk, reason=reason, password=password)


def test_abort_needs_a_qa_approver_a_reason_and_the_password(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="bsc")
    for user in (mfg.operator, mfg.w.supervisor, mfg.qa):
        refused(PermissionRefused, partial(abort, batch, user), None, "")
    refused(ValidationFailed, lambda: abort(batch, mfg.approver, reason=""), "reason", "")
    refused(
        SignatureRefused,
        lambda: abort(batch, mfg.approver, password="x"),
        "password",
        "incorrect",
    )
    b = abort(batch, mfg.approver, reason="Mycoplasma positive")
    assert (b.status, b.abort_reason) == ("aborted", "Mycoplasma positive")
    assert b.aborted_at is not None
    [signature] = signing.signatures_for(b)
    assert (signature.meaning, signature.signer, signature.reason) == (
        "approved",
        mfg.approver,
        "Mycoplasma positive",
    )
    assert signing.is_valid(signature, b)
    assert batch.order is not None
    batch.order.refresh_from_db()
    assert batch.order.status == "rejected"
    refused(Conflict, lambda: abort(batch, mfg.approver), "batch_id", "is aborted")


def test_abort_releases_the_equipment_the_batch_holds(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="reagent")  # BSC-01 is in use by the batch
    assert Usage.objects.filter(ended_at__isnull=True).count() == 1
    assert abort(batch, mfg.approver).status == "aborted"
    assert not Usage.objects.filter(ended_at__isnull=True).exists()


# --- QA review -------------------------------------------------------------------------------


def test_review_is_by_someone_else_after_completion_and_signed(
    mfg: Mfg, batch: Batch, make_user: Callable[..., User]
) -> None:
    from tests.core.factories import grant

    w = mfg.w
    grant(mfg.qa, Role.VERIFIER, w.mfg)  # QA who also verified a step
    grant(mfg.approver, Role.OPERATOR, w.mfg)  # QA who also performed one
    run(mfg, batch, until="cells")
    cells = services.record_step(
        actor=mfg.operator, batch_id=batch.pk, step_key="cells", value="120000000"
    )
    services.verify_entry(actor=mfg.qa, entry_id=cells.pk, password=PASSWORD)
    run(mfg, batch, until="branch_a")
    services.record_step(
        actor=mfg.approver, batch_id=batch.pk, step_key="branch_a", value="looked fine"
    )
    run(mfg, batch, until="sign")
    other = make_user(Role.QA_REVIEWER, w.mfg, username="qa3", full_name="Quentin QA")

    def review(actor: User, password: str = PASSWORD) -> Batch:
        return services.review_batch(
            actor=actor, batch_id=batch.pk, password=password, comment="No open issues"
        )

    refused(Conflict, lambda: review(other), "batch_id", "cannot become qa reviewed")
    run(mfg, batch)
    services.complete_batch(actor=mfg.operator, batch_id=batch.pk)
    for involved in (mfg.qa, mfg.approver):
        refused(
            SignatureRefused,
            partial(review, involved),
            "password",
            "you performed or verified steps of",
        )
    refused(SignatureRefused, lambda: review(other, "x"), "password", "incorrect")
    b = review(other)
    assert (b.status, b.review_comment) == ("reviewed", "No open issues")
    [signature] = signing.signatures_for(b)
    assert (signature.meaning, signature.signer) == ("reviewed", other)
    assert signing.is_valid(signature, b)
    refused(Conflict, lambda: review(other), "batch_id", "cannot become qa reviewed")
