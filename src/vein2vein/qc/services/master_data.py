"""Test methods (with versions) and specifications (versioned, approved by signature)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from vein2vein.chain.models import TherapyProduct
from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.services.signatures import apply_signature, check_password_for_signing
from vein2vein.core.time import now
from vein2vein.equipment.choices import EquipmentKind
from vein2vein.standards.specifications import Criterion, CriterionKind, SpecificationError

from ..choices import MethodCategory, SpecStage, SpecStatus
from ..models import SpecCriterion, Specification, TestMethod, TestMethodVersion
from ..permissions import QcPerm
from . import _common as c


def _check_gating_ml(xml: str) -> None:
    """Validate a Gating-ML 2.0 strategy with FlowKit (helper module qc.instruments.flow)."""
    from vein2vein.qc.instruments.flow import check_gating_ml

    check_gating_ml(xml.encode("utf-8"))


def create_method(
    *,
    actor: User,
    code: str,
    name: str,
    category: str,
    numeric: bool,
    unit: str = "",
    training_requirement: str = "",
    equipment_kind: str = "",
    description: str = "",
    gating_ml: str = "",
) -> TestMethod:
    """A new test method and its version 1."""
    require(actor, QcPerm.METHOD_MANAGE)
    values: dict[str, Any] = {
        "code": c.text(code, "code", max_length=30).upper(),
        "name": c.text(name, "name", max_length=200),
        "category": c.choice(category, "category", MethodCategory.values),
        "unit": c.text(unit, "unit", max_length=30, required=False),
        "training_requirement": c.text(
            training_requirement, "training_requirement", max_length=60, required=False
        ),
        "equipment_kind": c.choice(
            equipment_kind, "equipment_kind", EquipmentKind.values, required=False
        ),
    }
    if not isinstance(numeric, bool):
        raise c.ValidationFailed("numeric must be true or false", field="numeric")
    if numeric and not values["unit"]:
        raise c.ValidationFailed("a numeric method needs a unit", field="unit")
    with transaction.atomic():
        if TestMethod.objects.filter(code=values["code"]).exists():
            raise c.Conflict(f"method {values['code']} exists already", field="code")
        method = TestMethod.objects.create(
            numeric=numeric, created_by=actor, created_at=now(), **values
        )
        audit.append_event(
            actor=actor,
            action="qc.method.created",
            record=method,
            changes=c.created(method, TestMethod.RECORD_FIELDS),
        )
        _add_version(actor, method, 1, description, gating_ml)
    return method


def _add_version(
    actor: User, method: TestMethod, version: int, description: object, gating_ml: object
) -> TestMethodVersion:
    xml = c.text(gating_ml, "gating_ml", max_length=2_000_000, required=False)
    if xml:
        _check_gating_ml(xml)
    v = TestMethodVersion.objects.create(
        method=method,
        version=version,
        description=c.text(description, "description", max_length=c.LONG, required=False),
        gating_ml=xml,
        gating_ml_sha256=hashlib.sha256(xml.encode("utf-8")).hexdigest() if xml else "",
        created_by=actor,
        created_at=now(),
    )
    audit.append_event(
        actor=actor,
        action="qc.method.version_added",
        record=v,
        changes=c.created(v, TestMethodVersion.RECORD_FIELDS),
    )
    return v


def add_method_version(
    *, actor: User, method_id: int, description: str, gating_ml: str = ""
) -> TestMethodVersion:
    """The next version of a method (results keep the version they were entered with)."""
    require(actor, QcPerm.METHOD_MANAGE)
    with transaction.atomic():
        method = c.fetch(TestMethod, method_id, "method_id", lock=True)
        last = method.versions.order_by("-version").values_list("version", flat=True).first()
        return _add_version(actor, method, (last or 0) + 1, description, gating_ml)


def current_version(method: TestMethod) -> TestMethodVersion:
    found = TestMethodVersion.objects.filter(method=method).order_by("-version").first()
    if found is None:
        raise c.Conflict(f"method {method.code} has no version", field="method")
    return found


# --- specifications -------------------------------------------------------------------------
def criterion_from(row: Mapping[str, Any], position: int) -> tuple[TestMethod, Criterion]:
    """A criterion row {"method": code, "kind", "low", "high", "unit", "expected"} checked."""
    field = f"criteria[{position}]"
    if not isinstance(row, Mapping):
        raise c.ValidationFailed(f"{field} must be an object", field="criteria")
    code = c.text(row.get("method"), f"{field}.method", max_length=30).upper()
    method = TestMethod.objects.filter(code=code).first()
    if method is None:
        raise c.NotFound(f"{field}.method: no method {code}", field="criteria")
    try:
        crit = Criterion(
            kind=CriterionKind(c.choice(row.get("kind"), f"{field}.kind", CriterionKind)),
            low=row.get("low") if row.get("low") not in ("", None) else None,
            high=row.get("high") if row.get("high") not in ("", None) else None,
            unit=str(row.get("unit") or ""),
            expected=str(row.get("expected") or ""),
        )
    except SpecificationError as exc:
        raise c.ValidationFailed(f"{field}.{exc.field}: {exc.message}", field="criteria") from None
    if crit.numeric and not method.numeric:
        raise c.ValidationFailed(
            f"{field}: {method.name} gives a qualitative answer, not a number", field="criteria"
        )
    return method, crit


def create_specification(
    *,
    actor: User,
    product_id: int,
    stage: str,
    title: str,
    criteria: Iterable[Mapping[str, Any]],
) -> Specification:
    """A draft specification, the next version for its product and stage."""
    require(actor, QcPerm.SPEC_AUTHOR)
    product = c.fetch(TherapyProduct, product_id, "product_id")
    stage_value = c.choice(stage, "stage", SpecStage.values)
    name = c.text(title, "title", max_length=200)
    rows = list(criteria) if not isinstance(criteria, str | bytes | Mapping) else None
    if not rows:
        raise c.ValidationFailed("criteria: at least one criterion is required", field="criteria")
    checked = [criterion_from(row, i) for i, row in enumerate(rows)]
    codes = [m.code for m, _ in checked]
    if len(set(codes)) != len(codes):
        raise c.ValidationFailed("criteria: one criterion per method", field="criteria")
    with transaction.atomic():
        last = (
            Specification.objects.filter(product=product, stage=stage_value)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        spec = Specification.objects.create(
            product=product,
            stage=stage_value,
            version=(last or 0) + 1,
            title=name,
            status=SpecStatus.DRAFT,
            created_by=actor,
            created_at=now(),
        )
        SpecCriterion.objects.bulk_create(
            SpecCriterion(
                specification=spec,
                method=m,
                position=i,
                kind=crit.kind.value,
                low=crit.low,
                high=crit.high,
                unit=crit.unit,
                expected=crit.expected,
                printed=crit.printed(),
            )
            for i, (m, crit) in enumerate(checked, start=1)
        )
        changes = c.created(spec, Specification.RECORD_FIELDS)
        changes["criteria"] = {"old": None, "new": [f"{m.code}: {k.printed()}" for m, k in checked]}
        audit.append_event(
            actor=actor, action="qc.specification.created", record=spec, changes=changes
        )
    return spec


def approve_specification(
    *,
    actor: User,
    specification_id: int,
    password: str,
    request: HttpRequest | None = None,
) -> Specification:
    """QA approves a draft with a signature ('approved'); the approved version before it for
    the same product and stage is superseded."""
    found = c.fetch(Specification, specification_id, "specification_id")
    require(actor, QcPerm.SPEC_APPROVE)
    if found.status != SpecStatus.DRAFT:
        raise c.Conflict(f"specification is {found.status}", field="specification_id")
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        spec = c.fetch(Specification, found.pk, "specification_id", lock=True)
        if spec.status != SpecStatus.DRAFT:
            raise c.Conflict(f"specification is {spec.status}", field="specification_id")
        previous = list(
            Specification.objects.select_for_update(no_key=True, of=("self",)).filter(
                product_id=spec.product_id, stage=spec.stage, status=SpecStatus.APPROVED
            )
        )
        for old in previous:
            old.status = SpecStatus.SUPERSEDED
            old.save(update_fields=["status"])
            audit.append_event(
                actor=actor,
                action="qc.specification.superseded",
                record=old,
                changes={"status": {"old": SpecStatus.APPROVED, "new": SpecStatus.SUPERSEDED}},
            )
        at = now()
        spec.status = SpecStatus.APPROVED
        spec.approved_by = actor
        spec.approved_at = at
        spec.save(update_fields=["status", "approved_by", "approved_at"])
        audit.append_event(
            actor=actor,
            action="qc.specification.approved",
            record=spec,
            changes={
                "status": {"old": SpecStatus.DRAFT, "new": SpecStatus.APPROVED},
                "approved_by": {"old": None, "new": actor.pk},
            },
        )
        apply_signature(proof=proof, actor=actor, record=spec, meaning=SignatureMeaning.APPROVED)
    return spec
