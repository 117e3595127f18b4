"""Recording, verifying and correcting steps: limits and their deviations, values refused,
calculations, samples and labels, signatures, corrections and late entries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.manufacturing.conftest import PASSWORD, Mfg, ago, run, unchanged
from vein2vein.chain import services as chain
from vein2vein.chain.models import TherapyOrder
from vein2vein.core import signing
from vein2vein.core.errors import Conflict, NotFound, SignatureRefused, ValidationFailed
from vein2vein.core.models import AuditEvent
from vein2vein.core.time import now
from vein2vein.manufacturing import selectors, services
from vein2vein.manufacturing.models import Batch, BatchSample, StepEntry
from vein2vein.quality.models import Deviation


def record(mfg: Mfg, b: Batch, step: str, **kw: Any) -> StepEntry:
    actor = kw.pop("actor", mfg.operator)
    return services.record_step(actor=actor, batch_id=b.pk, step_key=step, **kw)


def refused(error: type[Exception], call: Callable[[], object], field: str, message: str) -> None:
    """The call raises `error` naming `field`, with `message` in its text, and writes nothing."""
    with unchanged(), pytest.raises(error) as caught:
        call()
    assert getattr(caught.value, "field", None) == field, caught.value
    assert message in str(caught.value), caught.value


def kinds(b: Batch) -> set[str]:
    return {x.kind for x in selectors.review_exceptions(b)}


# --- limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "flag"), [("120000000", ""), ("80000000", "alert")])
def test_within_or_outside_alert_limits_no_deviation(
    mfg: Mfg, batch: Batch, value: str, flag: str
) -> None:
    run(mfg, batch, until="cells")
    entry = record(mfg, batch, "cells", value=value)
    assert (entry.flag, entry.deviation, entry.value_number) == (flag, "", Decimal(value))
    assert entry.details["limits"]["alert"] == {"low": "100000000"}
    assert not Deviation.objects.exists()
    assert ("limit" in kinds(batch)) is bool(flag)


def test_outside_action_limits_needs_a_comment_and_raises_a_deviation(
    mfg: Mfg, batch: Batch
) -> None:
    run(mfg, batch, until="cells")
    refused(
        ValidationFailed,
        lambda: record(mfg, batch, "cells", value="40000000"),
        "comment",
        "outside the action limits (alert from 100000000; action from 50000000): a comment",
    )
    entry = record(mfg, batch, "cells", value="40000000", comment="Low yield, supervisor told")
    assert (entry.flag, entry.comment) == ("action", "Low yield, supervisor told")
    dev = Deviation.objects.get(number=entry.deviation)
    assert (dev.source_type, dev.source_id) == ("manufacturing.batch", str(batch.pk))
    assert (dev.category, dev.site_id, dev.status) == ("process", batch.site_id, "open")
    assert "Low yield, supervisor told" in dev.description
    assert {"limit", "comment", "deviation", "unverified"} <= kinds(batch)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("200000000000", "value 200000000000 cells:"),  # above the plausible range
        ("-1", "value -1 cells:"),
        ("12.5", "value"),  # the step takes whole cells
        ("many", "value"),
        ("", "value"),
    ],
)
def test_an_implausible_or_unreadable_value_is_refused(
    mfg: Mfg, batch: Batch, value: str, message: str
) -> None:
    run(mfg, batch, until="cells")
    refused(ValidationFailed, lambda: record(mfg, batch, "cells", value=value), "value", message)


def test_a_choice_outside_the_options_is_refused_and_out_of_spec_raises_a_deviation(
    mfg: Mfg, batch: Batch
) -> None:
    run(mfg, batch, until="look")
    refused(
        ValidationFailed,
        lambda: record(mfg, batch, "look", value="cloudy"),
        "value",
        "value must be one of: clear, turbid",
    )
    refused(
        ValidationFailed,
        lambda: record(mfg, batch, "look", value="turbid"),
        "comment",
        "'turbid' is out of specification (expected clear): a comment is required",
    )
    entry = record(mfg, batch, "look", value="turbid", comment="Sent a sterility sample")
    assert (entry.value_text, entry.flag) == ("turbid", "action")
    assert Deviation.objects.get(number=entry.deviation).source_id == str(batch.pk)


# --- calculations ----------------------------------------------------------------------------


def test_the_vector_volume_is_calculated_from_the_cells_and_the_lots_titer(
    mfg: Mfg, batch: Batch
) -> None:
    entry = run(mfg, batch, until="rest")["vector_ml"]
    # 1.2e8 cells * 5 TU/cell / 1.2e9 TU/mL = 0.50 mL
    assert (entry.value_number, entry.unit, entry.flag) == (Decimal("0.5"), "mL", "")
    assert entry.details["formula"] == "cells * param.target_moi / vector.titer_tu_per_ml"
    assert entry.details["inputs"] == {
        "cells": "120000000.0000000000",
        "param.target_moi": "5",
        "vector.titer_tu_per_ml": "1.2E+9",
    }


def test_a_calculation_outside_its_action_limits_needs_a_comment(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="vector_ml", cells={"value": "300000000"})
    # 3e8 * 5 / 1.2e9 = 1.25 mL, above the action limit of 1 mL
    refused(ValidationFailed, lambda: record(mfg, batch, "vector_ml"), "comment", "1.25 mL")
    entry = record(mfg, batch, "vector_ml", comment="Larger harvest; volume checked")
    assert (entry.value_number, entry.flag) == (Decimal("1.25"), "action")
    assert entry.deviation


def test_the_dose_is_capped_for_a_heavy_patient(
    mfg: Mfg, walk: Callable[..., TherapyOrder]
) -> None:
    w = mfg.w
    heavy = chain.enroll_patient(
        actor=w.clinician,
        site_id=w.clinic.pk,
        site_patient_id="LUH-000777",
        given_name="Hank",
        family_name="Heavy",
        date_of_birth="1965-02-03",
        weight_kg="130",
        diagnosis="Relapsed diffuse large B-cell lymphoma",
        consent_status="consented",
        consent_date="2026-01-10",
    )
    b = services.start_batch(actor=mfg.operator, order_id=walk("received", patient=heavy).pk)
    dose = run(mfg, b, until="ipc")["dose"]
    # min(1e6 /kg * 130 kg, 1e8) = 1e8 CAR+ cells
    assert (dose.value_number, dose.unit) == (Decimal("100000000"), "CAR+ cells")
    assert dose.details["inputs"]["patient.weight_kg"] == "130.0"


# --- samples, labels, sign-off ---------------------------------------------------------------


def test_a_sample_step_draws_a_labelled_qc_sample(mfg: Mfg, batch: Batch) -> None:
    entry = run(mfg, batch, until="bag_label")["ipc"]
    sample = BatchSample.objects.get(batch=batch)
    assert sample.number == f"{batch.number}-S01" == entry.value_text
    assert (sample.entry, sample.sample_type, sample.tests) == (
        entry,
        "in_process",
        ["cell count", "viability"],
    )
    assert (sample.quantity, sample.unit, sample.drawn_by) == (Decimal(1), "mL", mfg.operator)
    assert batch.order is not None
    assert f"COI {batch.order.coi_eye_readable}" in sample.label_text
    assert sample.label_text.startswith(f"Sample {sample.number} | in_process: cell count")
    assert list(selectors.samples_of(batch)) == [sample]
    assert AuditEvent.objects.filter(action="manufacturing.sample.drawn").count() == 1


def test_a_label_step_stores_the_label_text(mfg: Mfg, batch: Batch) -> None:
    entry = run(mfg, batch, until="sign")["bag_label"]
    assert batch.order is not None
    for part in (
        f"Batch {batch.number}",
        f"COI {batch.order.coi_eye_readable}",
        "FOR AUTOLOGOUS USE ONLY",
    ):
        assert part in entry.value_text
    assert entry.details["label_kind"] == "bag"


def test_sign_off_needs_the_password_and_adds_a_performed_signature(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="sign")
    refused(ValidationFailed, lambda: record(mfg, batch, "sign"), "password", "password")
    refused(
        SignatureRefused,
        lambda: record(mfg, batch, "sign", password="wrong"),
        "password",
        "password is incorrect",
    )
    entry = record(mfg, batch, "sign", password=PASSWORD)
    assert entry.status == "awaiting_verification"  # a sign-off is verified by default
    [signature] = signing.signatures_for(entry)
    assert (signature.meaning, signature.signer) == ("performed", mfg.operator)
    entry = services.verify_entry(actor=mfg.verifier, entry_id=entry.pk, password=PASSWORD)
    assert [(s.meaning, s.signer) for s in signing.signatures_for(entry)] == [
        ("performed", mfg.operator),
        ("verified", mfg.verifier),
    ]
    assert services.open_steps(batch) == []


def test_wrong_sign_off_passwords_count_toward_lockout(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="sign")
    for _ in range(5):
        with unchanged(), pytest.raises(SignatureRefused, match="incorrect"):
            record(mfg, batch, "sign", password="wrong")
    with pytest.raises(SignatureRefused, match="now locked"):
        record(mfg, batch, "sign", password="wrong")
    with unchanged(), pytest.raises(SignatureRefused, match="locked"):
        record(mfg, batch, "sign", password=PASSWORD)


# --- verification ----------------------------------------------------------------------------


def test_verification_adds_a_valid_verified_signature(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="cells")
    entry = record(mfg, batch, "cells", value="120000000")
    assert entry.status == "awaiting_verification"
    refused(
        SignatureRefused,
        lambda: services.verify_entry(actor=mfg.verifier, entry_id=entry.pk, password="x"),
        "password",
        "password is incorrect",
    )
    done = services.verify_entry(
        actor=mfg.verifier, entry_id=entry.pk, password=PASSWORD, comment="Counted twice"
    )
    assert (done.status, done.verified_by) == ("done", mfg.verifier)
    [signature] = signing.signatures_for(done)
    assert (signature.meaning, signature.signer, signature.reason) == (
        "verified",
        mfg.verifier,
        "Counted twice",
    )
    assert signing.is_valid(signature, done)
    refused(
        Conflict,
        lambda: services.verify_entry(actor=mfg.verifier, entry_id=entry.pk, password=PASSWORD),
        "entry_id",
        "is done",
    )


def test_unknown_steps_and_steps_recorded_twice_are_refused(mfg: Mfg, batch: Batch) -> None:
    refused(NotFound, lambda: record(mfg, batch, "nope"), "step_key", "step 'nope' is not in")
    record(mfg, batch, "coi_in", scan=f"&/{batch.coi}")
    refused(
        Conflict,
        lambda: record(mfg, batch, "coi_in", scan=f"&/{batch.coi}"),
        "step_key",
        "step 'coi_in' is already recorded (entry #1); correct that entry instead",
    )


# --- corrections -----------------------------------------------------------------------------


def test_a_correction_supersedes_the_entry_and_needs_verification_again(
    mfg: Mfg, batch: Batch
) -> None:
    old = run(mfg, batch, until="vector")["cells"]
    refused(
        ValidationFailed,
        lambda: services.correct_entry(actor=mfg.operator, entry_id=old.pk, reason="", value="1"),
        "reason",
        "reason",
    )
    refused(
        ValidationFailed,
        lambda: services.correct_entry(
            actor=mfg.operator, entry_id=old.pk, reason="Typo", value="120000000"
        ),
        "value",
        "the corrected value is the same as the recorded one",
    )
    new = services.correct_entry(
        actor=mfg.operator, entry_id=old.pk, reason="Transposed digits", value="210000000"
    )
    old.refresh_from_db()
    assert (old.status, old.value_number) == ("superseded", Decimal("120000000"))
    assert (new.corrects, new.correction_reason, new.status) == (
        old,
        "Transposed digits",
        "awaiting_verification",
    )
    assert new.value_number == Decimal("210000000") and new.seq > old.seq
    # The old verification stays with the old entry; the new value is verified again.
    assert [s.meaning for s in signing.signatures_for(old)] == ["verified"]
    assert signing.signatures_for(new) == []
    assert "cells" in services.open_steps(batch)
    services.verify_entry(actor=mfg.verifier, entry_id=new.pk, password=PASSWORD)
    assert services.current_entries(batch)["cells"].pk == new.pk
    [state] = [s for s in selectors.step_states(batch) if s.key == "cells"]
    assert (state.state, state.entry, state.history) == ("done", new, [old])
    assert "correction" in kinds(batch)
    assert list(
        AuditEvent.objects.filter(
            record_id__in=[str(old.pk), str(new.pk)], action__startswith="manufacturing.step."
        )
        .order_by("seq")
        .values_list("action", flat=True)
    )[-3:] == [
        "manufacturing.step.superseded",
        "manufacturing.step.corrected",
        "manufacturing.step.verified",
    ]
    refused(
        Conflict,
        lambda: services.correct_entry(actor=mfg.operator, entry_id=old.pk, reason="x", value="2"),
        "entry_id",
        "was already corrected",
    )


def _verified_then_corrected(mfg: Mfg, batch: Batch) -> StepEntry:
    old = run(mfg, batch, until="vector")["cells"]
    services.correct_entry(actor=mfg.operator, entry_id=old.pk, reason="Typo", value="210000000")
    return old


def _signed_off_then_verified(mfg: Mfg, batch: Batch) -> StepEntry:
    run(mfg, batch, until="sign")
    entry = record(mfg, batch, "sign", password=PASSWORD)
    return services.verify_entry(actor=mfg.verifier, entry_id=entry.pk, password=PASSWORD)


@pytest.mark.parametrize(
    "make", [_verified_then_corrected, _signed_off_then_verified], ids=["corrected", "signoff"]
)
def test_signatures_stay_valid_through_verification_and_correction(
    mfg: Mfg, batch: Batch, make: Callable[[Mfg, Batch], StepEntry]
) -> None:
    entry = make(mfg, batch)
    entry.refresh_from_db()
    signatures = signing.signatures_for(entry)
    assert signatures
    assert all(signing.is_valid(x, entry) for x in signatures)


@pytest.mark.parametrize("step", ["coi_in", "bsc", "reagent"])
def test_scans_are_not_corrected(mfg: Mfg, batch: Batch, step: str) -> None:
    entry = run(mfg, batch, until="cells")[step]
    refused(
        Conflict,
        lambda: services.correct_entry(
            actor=mfg.operator, entry_id=entry.pk, reason="Wrong scan", value="x"
        ),
        "entry_id",
        "entry cannot be corrected: raise a deviation for it",
    )


# --- when it was done ------------------------------------------------------------------------


def test_a_late_entry_is_flagged_for_review(mfg: Mfg, batch: Batch) -> None:
    # Set-up: the batch started three hours ago (a queryset update; a late start is stated
    # through start_batch(started_at=...), which cannot precede the receipt just made).
    Batch.objects.filter(pk=batch.pk).update(started_at=ago(hours=3))
    at = ago(hours=2)
    entry = record(mfg, batch, "coi_in", scan=f"&/{batch.coi}", performed_at=at)
    assert entry.performed_at == at and entry.is_late
    late = [x for x in selectors.review_exceptions(batch) if x.kind == "late" and x.entry]
    assert [x.entry for x in late] == [entry]
    on_time = record(mfg, batch, "bsc", scan="BSC-01")
    assert not on_time.is_late


@pytest.mark.parametrize(
    ("performed_at", "message"),
    [
        (lambda: now() + dt.timedelta(hours=1), "performed_at"),
        (lambda: ago(hours=1), "is before the batch started or a step this one follows"),
    ],
    ids=["future", "before-the-batch-started"],
)
def test_a_performed_at_in_the_future_or_before_the_start_is_refused(
    mfg: Mfg, batch: Batch, performed_at: Callable[[], object], message: str
) -> None:
    refused(
        ValidationFailed,
        lambda: record(mfg, batch, "coi_in", scan=f"&/{batch.coi}", performed_at=performed_at()),
        "performed_at",
        message,
    )


def test_a_calculation_from_a_corrected_value_is_listed_for_review(mfg: Mfg, batch: Batch) -> None:
    """Correcting the cell count after the vector volume was computed leaves that volume
    computed from the old count: the review by exception says so, naming both values."""

    entries = run(mfg, batch, until="rest")
    assert not [x for x in selectors.review_exceptions(batch) if x.kind == "stale"]
    services.correct_entry(
        actor=mfg.operator, entry_id=entries["cells"].pk, value="150000000", reason="Misread"
    )
    stale = [x for x in selectors.review_exceptions(batch) if x.kind == "stale"]
    assert [x.entry.step_key for x in stale if x.entry] == ["vector_ml"]
    assert "cells was 120000000 when computed; it is now 150000000" in stale[0].detail
