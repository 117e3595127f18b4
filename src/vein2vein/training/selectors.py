"""Reads shared by the training pages, the API, the dashboard panel and later apps.

`is_qualified(user, requirements, at)` is the question later apps ask before a user executes a
step; it is a pure read. `services.require_qualified` asks it and records a refusal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Union

from django.db.models import Count, Prefetch, Q, QuerySet

from vein2vein.core.models import RoleAssignment, Site, User
from vein2vein.core.permissions import GMP_ROLES, active_assignments_where
from vein2vein.core.time import in_zone, now
from vein2vein.documents import selectors as document_selectors
from vein2vein.documents.models import Document, DocumentVersion

from .choices import OPEN_ASSIGNMENT_STATUSES, AssignmentStatus, QualificationStatus
from .models import (
    Curriculum,
    CurriculumItem,
    Qualification,
    QualificationType,
    TrainingAssignment,
)

# A requirement: a Document (its version effective at the time of the check), a
# QualificationType, or the text of either ("SOP-0004", "APS").
Requirement = Union[Document, QualificationType, str]  # noqa: UP007 - readable in docs


# --- documents (through the documents app's selectors) -------------------------------------
def effective_version(document: Document, at: dt.datetime | None = None) -> DocumentVersion | None:
    """The version in effect at `at`; at=None (now) also lets documents make due versions
    effective first, so a version whose effective date has come counts at once."""
    return document_selectors.effective_version(document, at=at)


def get_document(number: str) -> Document | None:
    return document_selectors.get_document(number)


def documents() -> QuerySet[Document]:
    """Documents a curriculum may list (for the pickers)."""
    return Document.objects.order_by("number")


# --- is_qualified ---------------------------------------------------------------------------
@dataclass(frozen=True)
class QualificationResult:
    """Yes, or exactly what is missing: "SOP-0004 v2 not read", "Aseptic gowning expired
    2026-10-01". Truthy when qualified."""

    user: User
    at: dt.datetime
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing

    def __bool__(self) -> bool:
        return self.ok

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.user.printed_name} is qualified"
        return f"{self.user.printed_name} is not qualified: {'; '.join(self.missing)}"

    def __str__(self) -> str:
        return self.message


def _day(value: dt.datetime, site: Site) -> str:
    return f"{in_zone(value, site.time_zone):%Y-%m-%d}"


@dataclass
class _Evidence:
    """What `is_qualified` compares, read for several people and requirements at once: the
    effective version of each document, each person's record of each version, and each
    person's grants of each qualification type made by the time of the check."""

    versions: dict[int, DocumentVersion | None]
    records: dict[tuple[int, int], TrainingAssignment]
    grants: dict[tuple[int, int], Qualification]


def _evidence(
    users: Sequence[User],
    targets: Iterable[Document | QualificationType],
    at: dt.datetime,
    asked_at: dt.datetime | None,
) -> _Evidence:
    targets = list(targets)
    docs = [t for t in targets if isinstance(t, Document)]
    kinds = [t for t in targets if isinstance(t, QualificationType)]
    user_ids = [u.pk for u in users]
    versions = document_selectors.effective_versions(docs, at=asked_at) if docs else {}
    records: dict[tuple[int, int], TrainingAssignment] = {}
    version_ids = [v.pk for v in versions.values() if v is not None]
    if version_ids and user_ids:
        for record in TrainingAssignment.objects.filter(
            trainee_id__in=user_ids, document_version_id__in=version_ids
        ):
            records.setdefault((record.trainee_id, record.document_version_id), record)
    grants: dict[tuple[int, int], Qualification] = {}
    if kinds and user_ids:
        for grant in (
            Qualification.objects.filter(
                user_id__in=user_ids, qualification_type__in=kinds, granted_at__lte=at
            )
            .select_related("site")
            .order_by("-granted_at", "-pk")
        ):
            grants.setdefault((grant.user_id, grant.qualification_type_id), grant)
    return _Evidence(versions, records, grants)


def _document_gap(user: User, document: Document, at: dt.datetime, ev: _Evidence) -> str | None:
    version = ev.versions.get(document.pk)
    if version is None:
        return f"{document.number} has no effective version"
    record = ev.records.get((user.pk, version.pk))
    if record is not None and record.completed_at is not None and record.completed_at <= at:
        return None
    label = f"{document.number} v{version.version}"
    if (
        record is not None
        and record.trainer_led
        and record.trainee_signed_at is not None
        and record.trainee_signed_at <= at
    ):
        return f"{label} read, trainer sign-off missing"
    return f"{label} not read"


def _qualification_gap(
    user: User, kind: QualificationType, at: dt.datetime, ev: _Evidence
) -> str | None:
    """The grant that counts at `at` is the latest one made by then."""
    held = ev.grants.get((user.pk, kind.pk))
    if held is None:
        return f"{kind.name} not held"
    state = held.state_at(at)
    if state == "revoked":
        assert held.revoked_at is not None
        return f"{kind.name} revoked {_day(held.revoked_at, held.site)}"
    if state == "expired":
        return f"{kind.name} expired {_day(held.expires_at, held.site)}"
    return None


def resolve_requirement(item: Requirement) -> Document | QualificationType | None:
    """A Document or QualificationType for a requirement; text is a document number first,
    then a qualification type code; None when it names neither."""
    if isinstance(item, Document | QualificationType):
        return item
    text = str(item).strip()
    if not text or "\x00" in text:
        return None
    return (
        get_document(text)
        or get_document(text.upper())
        or QualificationType.objects.filter(code=text.upper()).first()
    )


def _label(item: Requirement) -> str:
    if isinstance(item, Document):
        return item.number
    if isinstance(item, QualificationType):
        return item.code
    return str(item).strip()


def is_qualified(
    user: User, requirements: Iterable[Requirement], at: dt.datetime | None = None
) -> QualificationResult:
    """Whether `user` has read the version of each document effective at `at` (now by default)
    and holds each qualification, valid at `at`. An unknown requirement fails closed."""
    when = at or now()
    resolved = _resolved(requirements)
    ev = _evidence([user], [t for _, t in resolved if t is not None], when, at)
    return _result(user, resolved, when, ev)


def _resolved(
    requirements: Iterable[Requirement],
) -> list[tuple[str, Document | QualificationType | None]]:
    """Each distinct requirement, in order, with its label and what it names (None: nothing)."""
    out: list[tuple[str, Document | QualificationType | None]] = []
    seen: set[str] = set()
    for item in requirements:
        target = resolve_requirement(item)
        key = f"{type(target).__name__}:{target.pk}" if target else _label(item).upper()
        if key in seen:
            continue
        seen.add(key)
        out.append((_label(item), target))
    return out


def _result(
    user: User,
    resolved: Sequence[tuple[str, Document | QualificationType | None]],
    when: dt.datetime,
    ev: _Evidence,
) -> QualificationResult:
    missing: list[str] = []
    for label, target in resolved:
        if target is None:
            gap: str | None = f"{label}: no such document or qualification"
        elif isinstance(target, Document):
            gap = _document_gap(user, target, when, ev)
        else:
            gap = _qualification_gap(user, target, when, ev)
        if gap:
            missing.append(gap)
    return QualificationResult(user=user, at=when, missing=missing)


# --- curricula ------------------------------------------------------------------------------
def _active_role_assignments(user: User) -> list[RoleAssignment]:
    if not user.is_active:
        return []
    return active_assignments_where(user, lambda a: a.role in GMP_ROLES)


def _curricula_scope(assignments: Iterable[RoleAssignment]) -> Q:
    scope = Q(pk__in=[])
    for assignment in assignments:
        scope |= Q(role=assignment.role, site__isnull=True)
        scope |= Q(role=assignment.role, site=assignment.site)
    return scope


def curricula_for(user: User) -> QuerySet[Curriculum]:
    """The curricula of the roles `user` holds now: each role's all-sites curriculum and the
    one for the site where the role is held."""
    scope = _curricula_scope(_active_role_assignments(user))
    return Curriculum.objects.filter(scope).select_related("site")


def curriculum_items_for(user: User) -> list[CurriculumItem]:
    return list(
        CurriculumItem.objects.filter(
            curriculum__in=curricula_for(user), removed_at__isnull=True
        ).select_related("document", "qualification_type", "curriculum")
    )


def curriculum_requirements(user: User) -> list[Document | QualificationType]:
    """Documents (by number) then qualifications (by code) the user's curricula require."""
    return _requirements_of(curriculum_items_for(user))


def _requirements_of(items: Iterable[CurriculumItem]) -> list[Document | QualificationType]:
    docs: dict[str, Document] = {}
    kinds: dict[str, QualificationType] = {}
    for item in items:
        if item.document is not None:
            docs[item.document.number] = item.document
        elif item.qualification_type is not None:
            kinds[item.qualification_type.code] = item.qualification_type
    return [*(docs[k] for k in sorted(docs)), *(kinds[k] for k in sorted(kinds))]


def curriculum_status(user: User, at: dt.datetime | None = None) -> QualificationResult:
    """Is `user` trained and qualified on everything their roles' curricula require?"""
    return is_qualified(user, curriculum_requirements(user), at)


def holders_of_document(document: Document) -> list[tuple[User, Site, CurriculumItem]]:
    """Who must read `document`: one (user, site, item) per active user whose role at an active
    site has a curriculum listing it. When several curricula list it, the strictest item wins
    (trainer-led, then the fewest days), and the site is the one that item's role is held at."""

    def strictness(candidate: tuple[User, Site, CurriculumItem]) -> tuple[bool, int, str, int]:
        _, site, item = candidate
        return (not item.trainer_led, item.due_days, site.code, item.pk)

    out: dict[int, tuple[User, Site, CurriculumItem]] = {}
    items = CurriculumItem.objects.filter(
        document=document, removed_at__isnull=True
    ).select_related("curriculum")
    for item in items:
        holders = RoleAssignment.objects.filter(
            role=item.curriculum.role,
            revoked_at__isnull=True,
            site__is_active=True,
            user__is_active=True,
        ).select_related("user", "site")
        if item.curriculum.site_id is not None:
            holders = holders.filter(site_id=item.curriculum.site_id)
        for assignment in holders:
            candidate = (assignment.user, assignment.site, item)
            current = out.get(assignment.user_id)
            if current is None or strictness(candidate) < strictness(current):
                out[assignment.user_id] = candidate
    return [out[k] for k in sorted(out)]


_ITEM_RELATED = ("document", "qualification_type", "added_by", "removed_by")


def curricula() -> QuerySet[Curriculum]:
    """With their items (removed ones too) read in one more query, for `curriculum_items`."""
    return Curriculum.objects.select_related("site", "created_by").prefetch_related(
        Prefetch("items", CurriculumItem.objects.select_related(*_ITEM_RELATED))
    )


def curriculum_items(
    curriculum: Curriculum, *, include_removed: bool = False
) -> list[CurriculumItem]:
    prefetched = "items" in getattr(curriculum, "_prefetched_objects_cache", {})
    qs = curriculum.items.all() if prefetched else curriculum.items.select_related(*_ITEM_RELATED)
    if not include_removed:
        qs = [i for i in qs if i.removed_at is None]  # type: ignore[assignment]
    # Documents by number, then qualifications by code; within each, active ones first.
    return sorted(
        qs,
        key=lambda i: (
            i.document is None,
            i.requirement,
            i.removed_at is not None,
            i.pk,
        ),
    )


def qualification_types(*, include_inactive: bool = True) -> QuerySet[QualificationType]:
    qs = QualificationType.objects.all()
    return qs if include_inactive else qs.filter(is_active=True)


# --- assignments ----------------------------------------------------------------------------
def _assignment_qs() -> QuerySet[TrainingAssignment]:
    return TrainingAssignment.objects.select_related(
        "trainee", "document_version__document", "site", "trainer"
    )


def open_assignments(user: User) -> list[TrainingAssignment]:
    return list(_assignment_qs().filter(trainee=user, status__in=OPEN_ASSIGNMENT_STATUSES))


def completed_assignments(user: User) -> list[TrainingAssignment]:
    return list(
        _assignment_qs()
        .filter(trainee=user, status=AssignmentStatus.COMPLETED)
        .order_by("-completed_at")
    )


def assignments(
    *,
    status: str | None = None,
    overdue: bool = False,
    document: str | None = None,
    trainee: str | None = None,
    site: Site | None = None,
    at: dt.datetime | None = None,
) -> QuerySet[TrainingAssignment]:
    """Assignments, soonest due first, narrowed (`narrow_assignments`)."""
    return narrow_assignments(
        _assignment_qs(),
        status=status,
        overdue=overdue,
        document=document,
        trainee=trainee,
        site=site,
        at=at,
    )


def narrow_assignments(
    qs: QuerySet[TrainingAssignment],
    *,
    status: str | None = None,
    overdue: bool = False,
    document: str | None = None,
    trainee: str | None = None,
    site: Site | None = None,
    at: dt.datetime | None = None,
) -> QuerySet[TrainingAssignment]:
    """What each assignment filter means (page and API: training/filters.py); `overdue`
    keeps open ones past their due time."""
    if status:
        qs = qs.filter(status=status)
    if overdue:
        qs = qs.filter(status__in=OPEN_ASSIGNMENT_STATUSES, due_at__lte=at or now())
    if document:
        qs = qs.filter(document_version__document__number__iexact=document.strip())
    if trainee:
        qs = qs.filter(trainee__username__iexact=trainee.strip())
    if site is not None:
        qs = qs.filter(site=site)
    return qs


def awaiting_sign_off(trainer: User) -> QuerySet[TrainingAssignment]:
    """Trainer-led items the trainee has signed, at sites where `trainer` may sign them off."""
    from .choices import TRAINER_ROLES

    sites = RoleAssignment.objects.filter(
        user=trainer, revoked_at__isnull=True, role__in=[str(r) for r in TRAINER_ROLES]
    ).values("site_id")
    return (
        _assignment_qs()
        .filter(status=AssignmentStatus.AWAITING_TRAINER, site_id__in=sites)
        .exclude(trainee=trainer)
    )


# --- qualifications -------------------------------------------------------------------------
def _qualification_qs() -> QuerySet[Qualification]:
    return Qualification.objects.select_related(
        "user", "qualification_type", "site", "granted_by", "revoked_by"
    )


def current_qualifications(user: User) -> list[Qualification]:
    """The latest grant of each type the user has held (valid, expired or revoked)."""
    latest: dict[int, Qualification] = {}
    for q in _qualification_qs().filter(user=user).order_by("-granted_at", "-pk"):
        latest.setdefault(q.qualification_type_id, q)
    return sorted(latest.values(), key=lambda q: q.qualification_type.code)


def qualifications(
    *,
    user: str | None = None,
    qualification_type: str | None = None,
    state: str | None = None,
    at: dt.datetime | None = None,
) -> QuerySet[Qualification]:
    """Grants, newest first, narrowed (`narrow_qualifications`)."""
    return narrow_qualifications(
        _qualification_qs(), user=user, qualification_type=qualification_type, state=state, at=at
    )


def narrow_qualifications(
    qs: QuerySet[Qualification],
    *,
    user: str | None = None,
    qualification_type: str | None = None,
    state: str | None = None,
    at: dt.datetime | None = None,
) -> QuerySet[Qualification]:
    """What each qualification filter means (page and API: training/filters.py); `state` is
    valid, expired, revoked or superseded at `at`."""
    when = at or now()
    if user:
        qs = qs.filter(user__username__iexact=user.strip())
    if qualification_type:
        qs = qs.filter(qualification_type__code__iexact=qualification_type.strip())
    if state == "valid":
        qs = qs.filter(status=QualificationStatus.ACTIVE, expires_at__gt=when)
    elif state == "expired":
        qs = qs.filter(status=QualificationStatus.ACTIVE, expires_at__lte=when)
    elif state in (QualificationStatus.REVOKED, QualificationStatus.SUPERSEDED):
        qs = qs.filter(status=state)
    return qs


def expiring(
    user: User, *, within_days: int = 30, at: dt.datetime | None = None
) -> list[Qualification]:
    """The user's active qualifications that expire within `within_days` (or have expired)."""
    when = at or now()
    return list(
        _qualification_qs()
        .filter(
            user=user,
            status=QualificationStatus.ACTIVE,
            expires_at__lte=when + dt.timedelta(days=within_days),
        )
        .order_by("expires_at")
    )


# --- the overview for supervisors and QA ----------------------------------------------------
@dataclass(frozen=True)
class MatrixRow:
    user: User
    roles: list[str]
    requirements: int
    result: QualificationResult
    open_count: int
    overdue_count: int


def people(site: Site | None = None, role: str | None = None) -> list[User]:
    qs = RoleAssignment.objects.filter(
        revoked_at__isnull=True,
        site__is_active=True,
        user__is_active=True,
        role__in=[str(r) for r in GMP_ROLES],
    )
    if site is not None:
        qs = qs.filter(site=site)
    if role:
        qs = qs.filter(role=role)
    ids = qs.values("user_id")
    return list(User.objects.filter(pk__in=ids).order_by("full_name", "username"))


def matrix(
    *, site: Site | None = None, role: str | None = None, at: dt.datetime | None = None
) -> list[MatrixRow]:
    """Who is missing what: each person's curriculum status, open and overdue assignments."""
    when = at or now()
    persons = people(site, role)
    # One query per table for everyone: their roles, curricula, items, evidence and counts.
    held: dict[int, list[RoleAssignment]] = {p.pk: [] for p in persons}
    for assignment in RoleAssignment.objects.filter(
        user__in=persons,
        user__is_active=True,
        revoked_at__isnull=True,
        site__is_active=True,
        role__in=[str(r) for r in GMP_ROLES],
    ).select_related("site"):
        held[assignment.user_id].append(assignment)
    curricula = list(
        Curriculum.objects.filter(_curricula_scope(a for rows in held.values() for a in rows))
    )
    items = list(
        CurriculumItem.objects.filter(
            curriculum__in=curricula, removed_at__isnull=True
        ).select_related("document", "qualification_type", "curriculum")
    )
    requirements: dict[int, list[Document | QualificationType]] = {}
    for person in persons:
        mine = {
            c.pk
            for c in curricula
            for a in held[person.pk]
            if c.role == a.role and c.site_id in (None, a.site_id)
        }
        requirements[person.pk] = _requirements_of(i for i in items if i.curriculum_id in mine)
    ev = _evidence(persons, _requirements_of(items), when, when)
    counts = {
        row["trainee_id"]: row
        for row in TrainingAssignment.objects.filter(
            trainee__in=persons, status__in=OPEN_ASSIGNMENT_STATUSES
        )
        .order_by()
        .values("trainee_id")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lte=when)))
    }
    rows: list[MatrixRow] = []
    for person in persons:
        needed = requirements[person.pk]
        count = counts.get(person.pk, {})
        rows.append(
            MatrixRow(
                user=person,
                roles=sorted({a.get_role_display() for a in held[person.pk]}),
                requirements=len(needed),
                result=_result(person, [(_label(t), t) for t in needed], when, ev),
                open_count=count.get("open", 0),
                overdue_count=count.get("overdue", 0),
            )
        )
    return rows
