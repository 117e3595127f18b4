"""Results: entered by a qualified analyst on usable equipment, evaluated against the batch's
approved specification; an out-of-spec result opens its OOS investigation (a quality deviation
of category OOS) in the same transaction. Reviewed by a second analyst (signed 'reviewed');
invalidated only with a reason and QA's signature ('approved'); a retest is a new result linked
to the original, which stays."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.files import File
from django.db import transaction
from django.http import HttpRequest

from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.files import sha256_of_chunks
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.services.signatures import apply_signature, check_password_for_signing
from vein2vein.core.time import now
from vein2vein.equipment.models import Equipment
from vein2vein.equipment.services import check_equipment_usable, require_equipment_usable
from vein2vein.quality.choices import DeviationCategory
from vein2vein.quality.services import raise_deviation
from vein2vein.standards.specifications import (
    Criterion,
    CriterionKind,
    Outcome,
    SpecificationError,
    Verdict,
    evaluate,
)
from vein2vein.training.services import is_qualified, require_qualified

from ..choices import Evaluation, OosPhase, ResultStatus, SamplePurpose, SampleStatus, SpecStage
from ..models import OosInvestigation, Sample, SpecCriterion, TestMethod, TestResult
from ..permissions import QcPerm
from . import _common as c
from .master_data import current_version

MAX_FILE_BYTES = 200 * 1024 * 1024
ENTER = "qc.result.enter"
REVIEW = "qc.result.review"


def _stage(sample: Sample) -> str:
    """The specification stage a sample is judged by (a retain sample by release)."""
    if sample.purpose == SamplePurpose.IN_PROCESS:
        return SpecStage.IN_PROCESS
    if sample.purpose == SamplePurpose.STABILITY:
        return SpecStage.STABILITY
    return SpecStage.RELEASE


def criterion_for(sample: Sample, method_code: str) -> SpecCriterion:
    """The criterion of `method_code` in the approved specification of the sample's batch's
    product at the sample's stage."""
    from ..selectors import approved_specification

    code = c.text(method_code, "method", max_length=30).upper()
    product_id = sample.batch.master_record.product_id
    spec = approved_specification(product_id, _stage(sample))
    if spec is None:
        raise c.Conflict(
            f"the product of {sample.batch.number} has no approved {_stage(sample)} specification",
            field="sample_id",
        )
    crit = (
        SpecCriterion.objects.select_related("method", "specification")
        .filter(specification=spec, method__code=code)
        .first()
    )
    if crit is None:
        raise c.NotFound(f"{spec.title} v{spec.version} has no test {code}", field="method")
    return crit


def judge(
    crit: SpecCriterion, value: object, text: object, unit: object
) -> tuple[Decimal | None, str, str, Outcome]:
    """(number, text, unit, outcome) of a result against a stored criterion; bad input names
    its field."""
    criterion = Criterion(
        kind=CriterionKind(crit.kind),
        low=crit.low,
        high=crit.high,
        unit=crit.unit,
        expected=crit.expected,
    )
    number: Decimal | None = None
    if value not in (None, ""):
        number = c.number(value, "value", low="-1e15", high="1e15", places=10)
    answer = c.text(text, "text", max_length=200, required=False)
    u = c.text(unit, "unit", max_length=30, required=False)
    if criterion.numeric and not u:
        u = criterion.unit
    try:
        outcome = evaluate(criterion, value=number, text=answer or None, unit=u)
    except SpecificationError as exc:
        raise c.ValidationFailed(exc.message, field=exc.field) from None
    return number, answer, u, outcome


def _file(file: object) -> tuple[File[Any] | None, str, str]:
    if file is None:
        return None, "", ""
    if not isinstance(file, File):
        raise c.ValidationFailed("file must be an uploaded file", field="file")
    if (file.size or 0) > MAX_FILE_BYTES:
        raise c.ValidationFailed("file is larger than 200 MB", field="file")
    name = str(file.name or "result").replace("\\", "/").rsplit("/", 1)[-1][:200]
    file.seek(0)
    digest, _ = sha256_of_chunks(file.chunks())
    file.seek(0)
    return file, name, digest


def _equipment_for(method: TestMethod, equipment_id: object) -> Equipment | None:
    if not method.equipment_kind:
        return None
    tag = c.text(equipment_id, "equipment_id", max_length=30).upper()
    unit = Equipment.objects.select_related("site").filter(equipment_id=tag).first()
    if unit is None:
        raise c.NotFound(f"equipment {tag} does not exist", field="equipment_id")
    if unit.kind != method.equipment_kind:
        raise c.ValidationFailed(
            f"{method.name} runs on a {method.equipment_kind.replace('_', ' ')}, "
            f"not on {tag} ({unit.get_kind_display().lower()})",
            field="equipment_id",
        )
    return unit


def enter_result(
    *,
    actor: User,
    sample_id: int,
    method: str,
    value: Decimal | str | None = None,
    text: str = "",
    unit: str = "",
    equipment_id: str = "",
    comment: str = "",
    retest_of_id: int | None = None,
    file: File[Any] | None = None,
    plot: File[Any] | None = None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> TestResult:
    """An analyst enters the result of test `method` (its code) on a sample. Refused, and the
    refusal recorded, when the analyst lacks the method's training or the equipment is not
    usable. Out of specification: the OOS investigation opens with it, in one transaction."""
    sample = c.fetch(
        Sample, sample_id, "sample_id", related=("batch__site", "batch__master_record")
    )
    require(actor, QcPerm.RESULT_ENTER, sample.site)
    if sample.status != SampleStatus.AVAILABLE:
        raise c.Conflict(f"sample {sample.number} is {sample.status}", field="sample_id")
    crit = criterion_for(sample, method)
    m = crit.method
    number, answer, u, outcome = judge(crit, value, text, unit)
    note = c.text(comment, "comment", max_length=c.LONG, required=False)
    upload, file_name, digest = _file(file)
    picture = _file(plot)[0] if plot is not None else None
    original: TestResult | None = None
    if retest_of_id is not None:
        original = c.fetch(TestResult, retest_of_id, "retest_of_id", related=("criterion",))
        if original.batch_id != sample.batch_id or original.criterion.method_id != m.pk:
            raise c.ValidationFailed(
                "retest_of_id must be a result of the same test on the same batch",
                field="retest_of_id",
            )
    when = now() if at is None else c.moment(at, "at", not_after=now())
    unit_used = _equipment_for(m, equipment_id)
    # Interlocks that record their own refusal, before the transaction.
    requirement = [m.training_requirement] if m.training_requirement else []
    if requirement:
        require_qualified(
            user=actor, requirements=requirement, action=ENTER, record=sample, at=when
        )
    if unit_used is not None:
        require_equipment_usable(
            actor=actor, equipment=unit_used, action=ENTER, record=sample, at=when
        )
    version = current_version(m)
    with transaction.atomic():
        if requirement and not is_qualified(actor, requirement, when).ok:
            raise c.InterlockBlocked("qualification changed meanwhile", field="method")
        if unit_used is not None:
            locked = Equipment.objects.select_for_update(no_key=True, of=("self",)).get(
                pk=unit_used.pk
            )
            if not check_equipment_usable(locked, when).ok:
                raise c.InterlockBlocked("the equipment changed meanwhile", field="equipment_id")
        result = TestResult(
            batch=sample.batch,
            sample=sample,
            criterion=crit,
            method_version=version,
            value_number=number,
            value_text=answer,
            unit=u,
            printed=outcome.printed,
            evaluation=Evaluation(outcome.verdict.value),
            evaluation_message=outcome.message[:800],
            status=ResultStatus.AWAITING_REVIEW,
            equipment=unit_used,
            comment=note,
            details=details or {},
            file_sha256=digest,
            entered_by=actor,
            entered_at=when,
            retest_of=original,
        )
        if upload is not None:
            result.file_name = file_name
            result.file.save(file_name, upload, save=False)
        if picture is not None:
            result.plot.save(f"{sample.number}-{m.code}.png", picture, save=False)
        result.save(force_insert=True)
        audit.append_event(
            actor=actor,
            action="qc.result.entered",
            record=result,
            changes=c.created(result, TestResult.RECORD_FIELDS),
        )
        if outcome.verdict == Verdict.OUT_OF_SPEC:
            open_oos(actor=actor, result=result)
    return result


def open_oos(*, actor: User, result: TestResult) -> OosInvestigation:
    """The OOS investigation of `result`: inside the caller's transaction (the result's)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("open_oos must run inside the result's transaction")
    crit = result.criterion
    dev = raise_deviation(
        source=result,
        category=DeviationCategory.OOS,
        actor=actor,
        site=result.batch.site,
        title=f"OOS {result.batch.number}: {crit.method.name} {result.printed}"[:200],
        description=(
            f"{crit.method.name} on sample {result.sample.number} of batch {result.batch.number}: "
            f"{result.evaluation_message}. Specification {crit.specification.title} "
            f"v{crit.specification.version}. Entered by {actor.printed_name}. Phase I "
            "(laboratory investigation) opened."
        ),
        detected_at=result.entered_at,
    )
    oos = OosInvestigation.objects.create(
        result=result,
        batch=result.batch,
        deviation=dev,
        phase=OosPhase.PHASE_I,
        opened_at=now(),
    )
    audit.append_event(
        actor=actor,
        action="qc.oos.opened",
        record=oos,
        changes=c.created(oos, OosInvestigation.RECORD_FIELDS),
    )
    return oos


def review_result(
    *,
    actor: User,
    result_id: int,
    password: str,
    comment: str = "",
    request: HttpRequest | None = None,
) -> TestResult:
    """A second analyst reviews a result with their signature ('reviewed'); the analyst who
    entered it never can (refused and recorded)."""
    found = c.fetch(TestResult, result_id, "result_id", related=("batch__site",))
    require(actor, QcPerm.RESULT_REVIEW, found.site)
    note = c.text(comment, "comment", max_length=2000, required=False)
    if found.status != ResultStatus.AWAITING_REVIEW:
        raise c.Conflict(
            f"result #{found.pk} is {found.get_status_display().lower()}", field="result_id"
        )
    if found.entered_by_id == actor.pk:
        raise c.refuse(
            actor=actor,
            action=REVIEW,
            record=found,
            message=f"{actor.printed_name} entered result #{found.pk}: the analyst cannot "
            "review their own result; a second analyst must sign",
            field="password",
            details={"result": found.pk},
        )
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        r = c.fetch(TestResult, found.pk, "result_id", lock=True)
        if r.status != ResultStatus.AWAITING_REVIEW:
            raise c.Conflict(f"result #{r.pk} is {r.status}", field="result_id")
        r.status = ResultStatus.REVIEWED
        r.reviewed_by = actor
        r.reviewed_at = now()
        r.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        audit.append_event(
            actor=actor,
            action="qc.result.reviewed",
            record=r,
            changes={
                "status": {"old": ResultStatus.AWAITING_REVIEW, "new": ResultStatus.REVIEWED},
                "reviewed_by": {"old": None, "new": actor.pk},
                "reviewed_at": {"old": None, "new": r.reviewed_at},
            },
            reason=note,
        )
        apply_signature(
            proof=proof,
            actor=actor,
            record=r,
            meaning=SignatureMeaning.REVIEWED,
            reason=note,
            performed_by=r.entered_by,
        )
    return r


def request_invalidation(*, actor: User, result_id: int, reason: str) -> TestResult:
    """An analyst asks for a result to be invalidated (e.g. a lab error found in phase I),
    with the reason; it counts until QA approves."""
    found = c.fetch(TestResult, result_id, "result_id", related=("batch__site",))
    require(actor, QcPerm.RESULT_ENTER, found.site)
    why = c.reason(reason)
    with transaction.atomic():
        r = c.fetch(TestResult, found.pk, "result_id", lock=True)
        if r.status not in (ResultStatus.AWAITING_REVIEW, ResultStatus.REVIEWED):
            raise c.Conflict(f"result #{r.pk} is {r.status}", field="result_id")
        old = r.status
        r.status = ResultStatus.INVALIDATION_REQUESTED
        r.invalidation_reason = why
        r.invalidation_requested_by = actor
        r.invalidation_requested_at = now()
        r.save(
            update_fields=[
                "status",
                "invalidation_reason",
                "invalidation_requested_by",
                "invalidation_requested_at",
            ]
        )
        audit.append_event(
            actor=actor,
            action="qc.result.invalidation_requested",
            record=r,
            changes={"status": {"old": old, "new": r.status}},
            reason=why,
        )
    return r


def approve_invalidation(
    *,
    actor: User,
    result_id: int,
    password: str,
    request: HttpRequest | None = None,
) -> TestResult:
    """QA approves the invalidation with a signature ('approved'): the result stays, marked
    invalidated; a retest links to it."""
    found = c.fetch(TestResult, result_id, "result_id", related=("batch__site",))
    require(actor, QcPerm.INVALIDATION_APPROVE, found.site)
    if found.status != ResultStatus.INVALIDATION_REQUESTED:
        raise c.Conflict(
            f"result #{found.pk} has no invalidation request (it is {found.status})",
            field="result_id",
        )
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        r = c.fetch(TestResult, found.pk, "result_id", lock=True)
        if r.status != ResultStatus.INVALIDATION_REQUESTED:
            raise c.Conflict(f"result #{r.pk} is {r.status}", field="result_id")
        r.status = ResultStatus.INVALIDATED
        r.invalidated_by = actor
        r.invalidated_at = now()
        r.save(update_fields=["status", "invalidated_by", "invalidated_at"])
        audit.append_event(
            actor=actor,
            action="qc.result.invalidated",
            record=r,
            changes={
                "status": {"old": ResultStatus.INVALIDATION_REQUESTED, "new": r.status},
                "invalidated_by": {"old": None, "new": actor.pk},
                "invalidated_at": {"old": None, "new": r.invalidated_at},
            },
            reason=r.invalidation_reason,
        )
        apply_signature(
            proof=proof,
            actor=actor,
            record=r,
            meaning=SignatureMeaning.APPROVED,
            reason=r.invalidation_reason,
            performed_by=r.entered_by,
        )
    return r


def conclude_phase_i(
    *, actor: User, oos_id: int, assignable_cause: bool, summary: str
) -> OosInvestigation:
    """End of the laboratory investigation: with an assignable lab cause, the result is then
    invalidated (request + QA approval) and retested; without one, phase II opens."""
    found = c.fetch(OosInvestigation, oos_id, "oos_id", related=("batch__site",))
    require(actor, QcPerm.OOS_INVESTIGATE, found.site)
    if not isinstance(assignable_cause, bool):
        raise c.ValidationFailed("assignable_cause must be true or false", field="assignable_cause")
    text = c.text(summary, "summary", max_length=c.LONG)
    with transaction.atomic():
        oos = c.fetch(OosInvestigation, found.pk, "oos_id", lock=True)
        if oos.phase != OosPhase.PHASE_I:
            raise c.Conflict(f"the investigation is in {oos.phase}", field="oos_id")
        oos.phase = OosPhase.CONCLUDED if assignable_cause else OosPhase.PHASE_II
        oos.assignable_cause = assignable_cause
        oos.phase_i_summary = text
        oos.phase_i_by = actor
        oos.phase_i_at = now()
        oos.save(
            update_fields=[
                "phase",
                "assignable_cause",
                "phase_i_summary",
                "phase_i_by",
                "phase_i_at",
            ]
        )
        audit.append_event(
            actor=actor,
            action="qc.oos.phase_i_concluded",
            record=oos,
            changes={
                "phase": {"old": OosPhase.PHASE_I, "new": oos.phase},
                "assignable_cause": {"old": None, "new": assignable_cause},
                "phase_i_summary": {"old": "", "new": text},
            },
        )
    return oos


def conclude_phase_ii(*, actor: User, oos_id: int, summary: str) -> OosInvestigation:
    """End of the full-scale investigation (root cause, product impact: in the deviation)."""
    found = c.fetch(OosInvestigation, oos_id, "oos_id", related=("batch__site",))
    require(actor, QcPerm.OOS_INVESTIGATE, found.site)
    text = c.text(summary, "summary", max_length=c.LONG)
    with transaction.atomic():
        oos = c.fetch(OosInvestigation, found.pk, "oos_id", lock=True)
        if oos.phase != OosPhase.PHASE_II:
            raise c.Conflict(f"the investigation is in {oos.phase}", field="oos_id")
        oos.phase = OosPhase.CONCLUDED
        oos.phase_ii_summary = text
        oos.phase_ii_by = actor
        oos.phase_ii_at = now()
        oos.save(update_fields=["phase", "phase_ii_summary", "phase_ii_by", "phase_ii_at"])
        audit.append_event(
            actor=actor,
            action="qc.oos.phase_ii_concluded",
            record=oos,
            changes={
                "phase": {"old": OosPhase.PHASE_II, "new": oos.phase},
                "phase_ii_summary": {"old": "", "new": text},
            },
        )
    return oos
