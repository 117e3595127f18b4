"""training API at /api/v1/training; thin: parse, call a service or selector, serialize.

Routes: my training; assignments (list, detail, sign, trainer sign-off, sync); curricula
(list, create, detail, correct, add a document, add a qualification, remove an item);
qualification types (list, create, correct); qualifications (list, grant, detail, revoke);
is-qualified (the interlock's question, read-only); the overview matrix.
"""

from __future__ import annotations

from django.db.models import Model
from django.http import HttpRequest
from ninja import Query, Router, Status

from vein2vein.core.actors import api_user
from vein2vein.core.api import ERRORS
from vein2vein.core.errors import NotFound, PermissionRefused
from vein2vein.core.models import Site, User
from vein2vein.core.pagination import Page, page_of
from vein2vein.core.permissions import has_perm, require
from vein2vein.core.signing import manifestation, signatures_for
from vein2vein.core.time import now
from vein2vein.web.lists import api_rows

from . import selectors, services
from .filters import AssignmentFilterSet, QualificationApiFilterSet
from .models import Curriculum, CurriculumItem, Qualification, QualificationType, TrainingAssignment
from .permissions import TrainingPerm
from .schemas import (
    AssignmentFilter,
    AssignmentOut,
    CheckFilter,
    CheckOut,
    CurriculumDocumentIn,
    CurriculumDocumentOut,
    CurriculumIn,
    CurriculumItemOut,
    CurriculumOut,
    CurriculumPatch,
    CurriculumQualificationIn,
    ManifestationOut,
    MatrixFilter,
    MatrixRowOut,
    MyTrainingOut,
    QualificationFilter,
    QualificationGrantIn,
    QualificationOut,
    QualificationTypeIn,
    QualificationTypeOut,
    QualificationTypePatch,
    ReasonIn,
    SyncOut,
    TrainingSignIn,
)

router = Router(tags=["training"])


def _signatures(record: Model) -> list[ManifestationOut]:
    out = []
    for sig in signatures_for(record):
        m = manifestation(sig, record)
        out.append(
            ManifestationOut(
                meaning=m.meaning,
                printed_name=m.printed_name,
                username=m.username,
                signed_at=m.signed_at,
                valid=m.valid,
                reason=m.reason,
            )
        )
    return out


def _assignment_out(a: TrainingAssignment, *, signatures: bool = False) -> AssignmentOut:
    version = a.document_version
    return AssignmentOut(
        id=a.pk,
        trainee=a.trainee.username,
        trainee_name=a.trainee.printed_name,
        document=version.document.number,
        title=version.document.title,
        version=version.version,
        document_version_id=version.pk,
        site=a.site.code,
        status=a.status,
        trainer_led=a.trainer_led,
        assigned_at=a.assigned_at,
        due_at=a.due_at,
        overdue=a.is_overdue(now()),
        trainee_signed_at=a.trainee_signed_at,
        trainer=a.trainer.username if a.trainer else None,
        trainer_signed_at=a.trainer_signed_at,
        completed_at=a.completed_at,
        superseded_at=a.superseded_at,
        signatures=_signatures(a) if signatures else [],
    )


def _qualification_out(q: Qualification, *, signatures: bool = False) -> QualificationOut:
    return QualificationOut(
        id=q.pk,
        user=q.user.username,
        user_name=q.user.printed_name,
        qualification_type=q.qualification_type.code,
        name=q.qualification_type.name,
        site=q.site.code,
        status=q.status,
        state=q.state_at(now()),
        granted_by=q.granted_by.username,
        granted_at=q.granted_at,
        expires_at=q.expires_at,
        note=q.note,
        superseded_at=q.superseded_at,
        revoked_at=q.revoked_at,
        revoked_by=q.revoked_by.username if q.revoked_by else None,
        revoke_reason=q.revoke_reason,
        signatures=_signatures(q) if signatures else [],
    )


def _item_out(i: CurriculumItem) -> CurriculumItemOut:
    if i.document is not None:
        kind, title, due = "document", i.document.title, i.due_days
    else:
        assert i.qualification_type is not None
        kind, title, due = "qualification", i.qualification_type.name, None
    return CurriculumItemOut(
        id=i.pk,
        kind=kind,
        requirement=i.requirement,
        title=title,
        trainer_led=i.trainer_led,
        due_days=due,
        added_at=i.added_at,
        added_by=i.added_by.username,
        removed_at=i.removed_at,
        remove_reason=i.remove_reason,
    )


def _curriculum_out(c: Curriculum) -> CurriculumOut:
    return CurriculumOut(
        id=c.pk,
        role=c.role,
        site=c.site.code if c.site else None,
        name=c.name,
        description=c.description,
        created_at=c.created_at,
        items=[_item_out(i) for i in selectors.curriculum_items(c, include_removed=True)],
    )


def _curriculum(curriculum_id: int) -> Curriculum:
    found = selectors.curricula().filter(pk=curriculum_id).first()
    if found is None:
        raise NotFound(f"curriculum {curriculum_id} does not exist", field="curriculum_id")
    return found


# --- my training ----------------------------------------------------------------------------
@router.get("/me", response={200: MyTrainingOut, **ERRORS})
def my_training(request: HttpRequest) -> MyTrainingOut:
    me = api_user(request)
    status = selectors.curriculum_status(me)
    return MyTrainingOut(
        user=me.username,
        ok=status.ok,
        missing=status.missing,
        open=[_assignment_out(a) for a in selectors.open_assignments(me)],
        records=[_assignment_out(a) for a in selectors.completed_assignments(me)],
        qualifications=[_qualification_out(q) for q in selectors.current_qualifications(me)],
    )


@router.get("/is-qualified", response={200: CheckOut, **ERRORS})
def is_qualified(request: HttpRequest, filters: Query[CheckFilter]) -> CheckOut:
    """Ask the interlock's question without acting: yourself, or anyone if you oversee."""
    me = api_user(request)
    person = me
    if filters.user_id is not None and filters.user_id != me.pk:
        require(me, TrainingPerm.OVERSEE)
        found = User.objects.filter(pk=filters.user_id).first()
        if found is None:
            raise NotFound(f"user {filters.user_id} does not exist", field="user_id")
        person = found
    result = selectors.is_qualified(person, filters.requirements, filters.at)
    return CheckOut(
        user=person.username,
        ok=result.ok,
        missing=result.missing,
        message=result.message,
        at=result.at,
    )


@router.get("/matrix", response={200: list[MatrixRowOut], **ERRORS})
def matrix(request: HttpRequest, filters: Query[MatrixFilter]) -> list[MatrixRowOut]:
    require(api_user(request), TrainingPerm.OVERSEE)
    site = None
    if filters.site_id is not None:
        site = Site.objects.filter(pk=filters.site_id).first()
        if site is None:
            raise NotFound(f"site {filters.site_id} does not exist", field="site_id")
    return [
        MatrixRowOut(
            user=row.user.username,
            full_name=row.user.printed_name,
            roles=row.roles,
            requirements=row.requirements,
            ok=row.result.ok,
            missing=row.result.missing,
            open=row.open_count,
            overdue=row.overdue_count,
        )
        for row in page_of(selectors.matrix(site=site, role=filters.role), filters)
    ]


# --- assignments ----------------------------------------------------------------------------
@router.get("/assignments", response={200: list[AssignmentOut], **ERRORS})
def list_assignments(request: HttpRequest, filters: Query[AssignmentFilter]) -> list[AssignmentOut]:
    require(api_user(request), TrainingPerm.OVERSEE)
    qs = api_rows(AssignmentFilterSet, filters, selectors.assignments(), request)
    return [_assignment_out(a) for a in page_of(qs, filters)]


@router.get("/assignments/{int:assignment_id}", response={200: AssignmentOut, **ERRORS})
def get_assignment(request: HttpRequest, assignment_id: int) -> AssignmentOut:
    me = api_user(request)
    a = selectors.assignments().filter(pk=assignment_id).first()
    if a is None:
        raise NotFound(f"training assignment {assignment_id} does not exist", field="assignment_id")
    if a.trainee_id != me.pk and not has_perm(me, TrainingPerm.OVERSEE):
        raise PermissionRefused(
            f"{TrainingPerm.OVERSEE} is needed to read another person's training"
        )
    return _assignment_out(a, signatures=True)


@router.post("/assignments/sync", response={200: SyncOut, **ERRORS})
def sync_assignments(request: HttpRequest) -> SyncOut:
    return SyncOut(created=len(services.sync_assignments(actor=api_user(request))))


@router.post("/assignments/{int:assignment_id}/sign", response={200: AssignmentOut, **ERRORS})
def sign_assignment(
    request: HttpRequest, assignment_id: int, payload: TrainingSignIn
) -> AssignmentOut:
    a = services.sign_assignment(
        actor=api_user(request),
        assignment_id=assignment_id,
        password=payload.password,
        reason=payload.reason,
        request=request,
    )
    return _assignment_out(a, signatures=True)


@router.post("/assignments/{int:assignment_id}/sign-off", response={200: AssignmentOut, **ERRORS})
def sign_off_assignment(
    request: HttpRequest, assignment_id: int, payload: TrainingSignIn
) -> AssignmentOut:
    a = services.sign_off_assignment(
        actor=api_user(request),
        assignment_id=assignment_id,
        password=payload.password,
        reason=payload.reason,
        request=request,
    )
    return _assignment_out(a, signatures=True)


# --- curricula ------------------------------------------------------------------------------
@router.get("/curricula", response={200: list[CurriculumOut], **ERRORS})
def list_curricula(request: HttpRequest, page: Query[Page]) -> list[CurriculumOut]:
    require(api_user(request), TrainingPerm.OVERSEE)
    return [_curriculum_out(c) for c in page_of(selectors.curricula(), page)]


@router.post("/curricula", response={201: CurriculumOut, **ERRORS})
def create_curriculum(request: HttpRequest, payload: CurriculumIn) -> Status[CurriculumOut]:
    c = services.create_curriculum(actor=api_user(request), **payload.dict())
    return Status(201, _curriculum_out(c))


@router.get("/curricula/{int:curriculum_id}", response={200: CurriculumOut, **ERRORS})
def get_curriculum(request: HttpRequest, curriculum_id: int) -> CurriculumOut:
    require(api_user(request), TrainingPerm.OVERSEE)
    return _curriculum_out(_curriculum(curriculum_id))


@router.patch("/curricula/{int:curriculum_id}", response={200: CurriculumOut, **ERRORS})
def update_curriculum(
    request: HttpRequest, curriculum_id: int, payload: CurriculumPatch
) -> CurriculumOut:
    fields = payload.dict(exclude_unset=True, exclude_none=True)
    reason = fields.pop("reason")
    c = services.update_curriculum(
        actor=api_user(request), curriculum_id=curriculum_id, reason=reason, **fields
    )
    return _curriculum_out(c)


@router.post(
    "/curricula/{int:curriculum_id}/documents", response={201: CurriculumDocumentOut, **ERRORS}
)
def add_curriculum_document(
    request: HttpRequest, curriculum_id: int, payload: CurriculumDocumentIn
) -> Status[CurriculumDocumentOut]:
    item, created = services.add_curriculum_document(
        actor=api_user(request), curriculum_id=curriculum_id, **payload.dict()
    )
    return Status(201, CurriculumDocumentOut(item=_item_out(item), assigned=len(created)))


@router.post(
    "/curricula/{int:curriculum_id}/qualifications", response={201: CurriculumItemOut, **ERRORS}
)
def add_curriculum_qualification(
    request: HttpRequest, curriculum_id: int, payload: CurriculumQualificationIn
) -> Status[CurriculumItemOut]:
    item = services.add_curriculum_qualification(
        actor=api_user(request),
        curriculum_id=curriculum_id,
        qualification_code=payload.qualification_code,
    )
    return Status(201, _item_out(item))


@router.post("/curriculum-items/{int:item_id}/remove", response={200: CurriculumItemOut, **ERRORS})
def remove_curriculum_item(
    request: HttpRequest, item_id: int, payload: ReasonIn
) -> CurriculumItemOut:
    item = services.remove_curriculum_item(
        actor=api_user(request), item_id=item_id, reason=payload.reason
    )
    return _item_out(item)


# --- qualification types --------------------------------------------------------------------
@router.get("/qualification-types", response={200: list[QualificationTypeOut], **ERRORS})
def list_qualification_types(request: HttpRequest, page: Query[Page]) -> list[QualificationType]:
    require(api_user(request), TrainingPerm.VIEW_OWN)
    return page_of(selectors.qualification_types(), page)


@router.post("/qualification-types", response={201: QualificationTypeOut, **ERRORS})
def create_qualification_type(
    request: HttpRequest, payload: QualificationTypeIn
) -> Status[QualificationType]:
    return Status(
        201, services.create_qualification_type(actor=api_user(request), **payload.dict())
    )


@router.patch("/qualification-types/{code}", response={200: QualificationTypeOut, **ERRORS})
def update_qualification_type(
    request: HttpRequest, code: str, payload: QualificationTypePatch
) -> QualificationType:
    fields = payload.dict(exclude_unset=True, exclude_none=True)
    reason = fields.pop("reason")
    return services.update_qualification_type(
        actor=api_user(request), code=code, reason=reason, **fields
    )


# --- qualifications -------------------------------------------------------------------------
@router.get("/qualifications", response={200: list[QualificationOut], **ERRORS})
def list_qualifications(
    request: HttpRequest, filters: Query[QualificationFilter]
) -> list[QualificationOut]:
    require(api_user(request), TrainingPerm.OVERSEE)
    qs = api_rows(QualificationApiFilterSet, filters, selectors.qualifications(), request)
    return [_qualification_out(q) for q in page_of(qs, filters)]


@router.post("/qualifications", response={201: QualificationOut, **ERRORS})
def grant_qualification(
    request: HttpRequest, payload: QualificationGrantIn
) -> Status[QualificationOut]:
    q = services.grant_qualification(actor=api_user(request), request=request, **payload.dict())
    return Status(201, _qualification_out(q, signatures=True))


@router.get("/qualifications/{int:qualification_id}", response={200: QualificationOut, **ERRORS})
def get_qualification(request: HttpRequest, qualification_id: int) -> QualificationOut:
    me = api_user(request)
    q = selectors.qualifications().filter(pk=qualification_id).first()
    if q is None:
        raise NotFound(f"qualification {qualification_id} does not exist", field="qualification_id")
    if q.user_id != me.pk and not has_perm(me, TrainingPerm.OVERSEE):
        raise PermissionRefused(
            f"{TrainingPerm.OVERSEE} is needed to read another person's qualifications"
        )
    return _qualification_out(q, signatures=True)


@router.post(
    "/qualifications/{int:qualification_id}/revoke", response={200: QualificationOut, **ERRORS}
)
def revoke_qualification(
    request: HttpRequest, qualification_id: int, payload: ReasonIn
) -> QualificationOut:
    q = services.revoke_qualification(
        actor=api_user(request), qualification_id=qualification_id, reason=payload.reason
    )
    return _qualification_out(q, signatures=True)
