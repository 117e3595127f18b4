"""Reads of QC for pages, the API and the release app (which reads qc only through here).

`release_testing(batch_id)` is the release-testing summary of a batch: each release test of
the product's approved specification with its result and status, in a constant number of
queries whatever the size of the tables.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from vein2vein.chain.selectors import site_ids_of
from vein2vein.core.models import User
from vein2vein.core.permissions import ROLE_PERMISSIONS, active_roles
from vein2vein.manufacturing.models import Batch

from .choices import Evaluation, OosPhase, ResultStatus, SpecStage, SpecStatus
from .models import (
    OosInvestigation,
    Sample,
    SpecCriterion,
    Specification,
    TestMethod,
    TestResult,
)
from .permissions import QcPerm

LINE_STATUSES = (
    "missing",
    "awaiting_review",
    "in_spec",
    "out_of_spec",
    "invalidated_awaiting_retest",
)


@dataclass(frozen=True)
class ReleaseTestLine:
    test: str
    """Method name, e.g. "Endotoxin"."""
    method_version: str
    """e.g. "v2" (the version the result was entered with; the current one when missing)."""
    criterion: str
    """The acceptance criterion as printed, e.g. "≤ 5.0 EU/mL"."""
    result: str | None
    """The result as printed with its unit; None when not resulted."""
    status: str
    """One of LINE_STATUSES."""
    analyst: str | None
    reviewer: str | None
    reviewed_at: dt.datetime | None
    url: str | None
    """The result's page, or the batch's QC page where it is missing."""


@dataclass(frozen=True)
class ReleaseTesting:
    batch_id: int
    specification: str | None
    """e.g. "CAR-T release spec v1 (approved)"; None when the product has no approved spec."""
    lines: tuple[ReleaseTestLine, ...]
    oos_deviation_ids: tuple[int, ...]
    """The OOS investigations (quality deviations) raised from this batch's results."""

    @property
    def complete(self) -> bool:
        """Every release test resulted and reviewed (a spec exists and has tests)."""
        return (
            self.specification is not None
            and bool(self.lines)
            and all(line.status in ("in_spec", "out_of_spec") for line in self.lines)
        )

    @property
    def all_in_spec(self) -> bool:
        return self.complete and all(line.status == "in_spec" for line in self.lines)


def approved_specification(product_id: int, stage: str = SpecStage.RELEASE) -> Specification | None:
    """The product's approved specification at `stage` (highest approved version)."""
    return (
        Specification.objects.filter(product_id=product_id, stage=stage, status=SpecStatus.APPROVED)
        .order_by("-version")
        .first()
    )


def _line_status(results: list[TestResult]) -> tuple[str, TestResult | None]:
    """A test's status from all its results on the batch (oldest first): an out-of-spec result
    stands until it is invalidated, whatever a retest says; an invalidated one waits for its
    retest."""
    valid = [r for r in results if r.status != ResultStatus.INVALIDATED]
    if not valid:
        return ("invalidated_awaiting_retest", results[-1]) if results else ("missing", None)
    for r in valid:
        if r.evaluation == Evaluation.OUT_OF_SPEC:
            return "out_of_spec", r
    pending = [r for r in valid if r.status != ResultStatus.REVIEWED]
    if pending:
        return "awaiting_review", pending[-1]
    return "in_spec", valid[-1]


def release_testing(batch_id: int) -> ReleaseTesting:
    """The release testing of a batch against its product's approved release specification.
    Five queries, whatever the number of batches, results and investigations stored."""
    b = Batch.objects.filter(pk=batch_id).values("master_record__product_id").first()
    oos_ids = tuple(
        OosInvestigation.objects.filter(batch_id=batch_id)
        .order_by("deviation_id")
        .values_list("deviation_id", flat=True)
    )
    if b is None:
        return ReleaseTesting(batch_id, None, (), oos_ids)
    spec = approved_specification(b["master_record__product_id"])
    if spec is None:
        return ReleaseTesting(batch_id, None, (), oos_ids)
    criteria = list(
        SpecCriterion.objects.filter(specification=spec)
        .select_related("method")
        .order_by("position")
    )
    by_method: dict[int, list[TestResult]] = defaultdict(list)
    for row in (
        TestResult.objects.filter(batch_id=batch_id, sample__purpose="release")
        .select_related("method_version", "criterion", "entered_by", "reviewed_by")
        .order_by("entered_at", "pk")
    ):
        by_method[row.criterion.method_id].append(row)
    missing_url = reverse("qc:batch", args=[batch_id])
    lines = []
    for c in criteria:
        status, r = _line_status(by_method.get(c.method_id, []))
        lines.append(
            ReleaseTestLine(
                test=c.method.name,
                method_version=f"v{r.method_version.version}" if r else "",
                criterion=c.printed,
                result=r.printed if r else None,
                status=status,
                analyst=r.entered_by.printed_name if r else None,
                reviewer=r.reviewed_by.printed_name if r and r.reviewed_by else None,
                reviewed_at=r.reviewed_at if r else None,
                url=reverse("qc:result", args=[r.pk]) if r else missing_url,
            )
        )
    return ReleaseTesting(
        batch_id, f"{spec.title} v{spec.version} (approved)", tuple(lines), oos_ids
    )


# --- pages and API -------------------------------------------------------------------------
def _site_ids(user: User) -> list[int]:
    return site_ids_of(user)


def methods() -> QuerySet[TestMethod]:
    return TestMethod.objects.annotate(version_count=Count("versions")).order_by("name")


def specifications() -> QuerySet[Specification]:
    return Specification.objects.select_related("product").annotate(
        criterion_count=Count("criteria")
    )


def samples_for(user: User) -> QuerySet[Sample]:
    qs = Sample.objects.select_related("batch", "assigned_to", "parent")
    if user.is_superuser:
        return qs
    return qs.filter(batch__site_id__in=_site_ids(user))


def results_for(user: User) -> QuerySet[TestResult]:
    qs = TestResult.objects.select_related(
        "batch", "sample", "criterion__method", "method_version", "entered_by", "reviewed_by"
    )
    if user.is_superuser:
        return qs
    return qs.filter(batch__site_id__in=_site_ids(user))


def oos_for(user: User) -> QuerySet[OosInvestigation]:
    qs = OosInvestigation.objects.select_related("result", "batch", "deviation")
    if user.is_superuser:
        return qs
    return qs.filter(batch__site_id__in=_site_ids(user))


def open_oos_count(batch_id: int) -> int:
    return (
        OosInvestigation.objects.filter(batch_id=batch_id).exclude(phase=OosPhase.CONCLUDED).count()
    )


def may_review(user: User) -> bool:
    return bool(active_roles(user) & ROLE_PERMISSIONS[QcPerm.RESULT_REVIEW])


def may_enter(user: User) -> bool:
    return bool(active_roles(user) & ROLE_PERMISSIONS[QcPerm.RESULT_ENTER])


@dataclass(frozen=True)
class WorkItem:
    kind: str  # "test" (to result) | "review" (a colleague's result to review)
    due: dt.date | None
    sample: Sample
    test: str
    result: TestResult | None


def worklist(user: User) -> list[WorkItem]:
    """What `user` has to do, soonest due first: the release and in-process tests of the
    samples assigned to them still without a valid result, and the results of others awaiting
    review. Four queries."""
    if not may_enter(user) and not may_review(user):
        return []
    samples = list(
        samples_for(user)
        .filter(assigned_to=user, status="available")
        .select_related("batch__master_record")
        .order_by("due_date", "number")[:200]
    )
    items: list[WorkItem] = []
    if samples:
        products = {s.batch.master_record.product_id for s in samples}
        specs = Specification.objects.filter(
            product_id__in=products, status=SpecStatus.APPROVED
        ).order_by("product_id", "stage", "version")
        latest: dict[tuple[int, str], int] = {}
        for spec_id, product_id, stage in specs.values_list("pk", "product_id", "stage"):
            latest[(product_id, stage)] = spec_id
        criteria: dict[int, list[SpecCriterion]] = defaultdict(list)
        for crit in SpecCriterion.objects.filter(
            specification_id__in=latest.values()
        ).select_related("method"):
            criteria[crit.specification_id].append(crit)
        done = set(
            TestResult.objects.filter(sample__in=samples)
            .exclude(status=ResultStatus.INVALIDATED)
            .values_list("sample_id", "criterion__method_id")
        )
        for s in samples:
            stage = "in_process" if s.purpose == "in_process" else s.purpose
            found = latest.get((s.batch.master_record.product_id, stage))
            for crit in sorted(criteria.get(found or 0, []), key=lambda c: c.position):
                if (s.pk, crit.method_id) not in done:
                    items.append(WorkItem("test", s.due_date, s, crit.method.name, None))
    reviews = (
        results_for(user)
        .filter(status=ResultStatus.AWAITING_REVIEW)
        .filter(~Q(entered_by=user))
        .select_related("sample__batch", "sample__assigned_to")
        .order_by("entered_at")
    )
    if not may_review(user):
        reviews = reviews.none()
    for r in reviews[:200]:
        items.append(WorkItem("review", r.sample.due_date, r.sample, r.criterion.method.name, r))
    items.sort(key=lambda i: (i.due or dt.date.max, i.sample.number, i.test))
    return items
