"""quality API at /api/v1/quality; thin: parse, call a service or selector, serialize."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from vein2vein.core.actors import api_user
from vein2vein.core.errors import NotFound
from vein2vein.core.models import User
from vein2vein.core.permissions import require
from vein2vein.core.schemas import ErrorOut
from vein2vein.web.lists import api_rows

from . import selectors, services
from .filters import CapaApiFilterSet, ChangeApiFilterSet, DeviationApiFilterSet
from .models import Capa, ChangeControl, Deviation
from .permissions import QPerm
from .schemas import (
    ActionIn,
    ActionOut,
    ApprovalOut,
    CapaFilter,
    CapaIn,
    CapaOut,
    ChangeApproveIn,
    ChangeFilter,
    ChangeIn,
    ChangeOut,
    ChangePatch,
    CheckIn,
    CheckResultIn,
    ClassifyIn,
    CloseIn,
    CommentIn,
    DeviationFilter,
    DeviationIn,
    DeviationOut,
    EffectivenessCheckOut,
    EvidenceIn,
    ExtendIn,
    ExtensionOut,
    InvestigationPatch,
    LinkDeviationIn,
    LinkIn,
    LinkOut,
    MyWorkOut,
    OverdueOut,
    ReasonIn,
    StartInvestigationIn,
    TaskIn,
    TaskOut,
)

router = Router(tags=["quality"])
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _reader(request: HttpRequest) -> User:
    user = api_user(request)
    require(user, QPerm.VIEW)
    return user


def _get(model: type[Any], pk: int, field: str) -> Any:
    obj = model._default_manager.filter(pk=pk).first()
    if obj is None:
        raise NotFound(f"{model._meta.verbose_name} {pk} does not exist", field=field)
    return obj


def _page(rows: Any, page: Any) -> list[Any]:
    return list(rows[page.offset : page.offset + page.limit])


# --- deviations -----------------------------------------------------------------------------
D = ["deviations"]


@router.get("/deviations", response={200: list[DeviationOut], **ERRORS}, tags=D)
def list_deviations(request: HttpRequest, filters: Query[DeviationFilter]) -> list[Any]:
    _reader(request)
    rows = api_rows(DeviationApiFilterSet, filters, selectors.deviations(), request)  # type: ignore[arg-type]
    return _page(rows, filters)


@router.post("/deviations", response={201: DeviationOut, **ERRORS}, tags=D)
def create_deviation(request: HttpRequest, payload: DeviationIn) -> Status[Deviation]:
    return Status(201, services.create_deviation(actor=api_user(request), **payload.dict()))


@router.get("/deviations/{deviation_id}", response={200: DeviationOut, **ERRORS}, tags=D)
def get_deviation(request: HttpRequest, deviation_id: int) -> Deviation:
    _reader(request)
    return _get(Deviation, deviation_id, "deviation_id")  # type: ignore[no-any-return]


@router.post("/deviations/{deviation_id}/classify", response={200: DeviationOut, **ERRORS}, tags=D)
def classify(request: HttpRequest, deviation_id: int, payload: ClassifyIn) -> Deviation:
    return services.classify_deviation(
        actor=api_user(request), deviation_id=deviation_id, **payload.dict()
    )


@router.post(
    "/deviations/{deviation_id}/investigation/start",
    response={200: DeviationOut, **ERRORS},
    tags=D,
)
def start_investigation(
    request: HttpRequest, deviation_id: int, payload: StartInvestigationIn
) -> Deviation:
    return services.start_investigation(
        actor=api_user(request), deviation_id=deviation_id, investigator_id=payload.investigator_id
    )


@router.patch(
    "/deviations/{deviation_id}/investigation", response={200: DeviationOut, **ERRORS}, tags=D
)
def update_investigation(
    request: HttpRequest, deviation_id: int, payload: InvestigationPatch
) -> Deviation:
    fields = payload.dict(exclude_unset=True)
    reason = fields.pop("reason", "")
    return services.update_investigation(
        actor=api_user(request), deviation_id=deviation_id, reason=reason, **fields
    )


@router.post("/deviations/{deviation_id}/submit", response={200: DeviationOut, **ERRORS}, tags=D)
def submit(request: HttpRequest, deviation_id: int) -> Deviation:
    return services.submit_for_approval(actor=api_user(request), deviation_id=deviation_id)


@router.post("/deviations/{deviation_id}/return", response={200: DeviationOut, **ERRORS}, tags=D)
def return_deviation(request: HttpRequest, deviation_id: int, payload: ReasonIn) -> Deviation:
    return services.return_to_investigation(
        actor=api_user(request), deviation_id=deviation_id, reason=payload.reason
    )


@router.post("/deviations/{deviation_id}/close", response={200: DeviationOut, **ERRORS}, tags=D)
def close_deviation(request: HttpRequest, deviation_id: int, payload: CloseIn) -> Deviation:
    return services.close_deviation(
        actor=api_user(request),
        deviation_id=deviation_id,
        password=payload.password,
        comment=payload.comment,
        justifications=payload.justifications,
        request=request,
    )


@router.post("/deviations/{deviation_id}/cancel", response={200: DeviationOut, **ERRORS}, tags=D)
def cancel_deviation(request: HttpRequest, deviation_id: int, payload: ReasonIn) -> Deviation:
    return services.cancel_deviation(
        actor=api_user(request), deviation_id=deviation_id, reason=payload.reason
    )


@router.post("/deviations/{deviation_id}/extend", response={201: ExtensionOut, **ERRORS}, tags=D)
def extend(request: HttpRequest, deviation_id: int, payload: ExtendIn) -> Status[Any]:
    extension = services.extend_due_date(
        actor=api_user(request),
        deviation_id=deviation_id,
        new_due_date=payload.new_due_date,
        reason=payload.reason,
        password=payload.password,
        request=request,
    )
    return Status(201, extension)


@router.post("/deviations/{deviation_id}/links", response={201: LinkOut, **ERRORS}, tags=D)
def link_record(request: HttpRequest, deviation_id: int, payload: LinkIn) -> Status[Any]:
    link = services.link_record(
        actor=api_user(request), deviation_id=deviation_id, **payload.dict()
    )
    return Status(201, link)


@router.post("/deviation-links/{link_id}/remove", response={200: LinkOut, **ERRORS}, tags=D)
def remove_link(request: HttpRequest, link_id: int, payload: ReasonIn) -> Any:
    return services.remove_link(actor=api_user(request), link_id=link_id, reason=payload.reason)


# --- CAPA -----------------------------------------------------------------------------------
C = ["capa"]


@router.get("/capas", response={200: list[CapaOut], **ERRORS}, tags=C)
def list_capas(request: HttpRequest, filters: Query[CapaFilter]) -> list[Any]:
    _reader(request)
    rows = api_rows(CapaApiFilterSet, filters, selectors.capas(), request)  # type: ignore[arg-type]
    return _page(rows, filters)


@router.post("/capas", response={201: CapaOut, **ERRORS}, tags=C)
def create_capa(request: HttpRequest, payload: CapaIn) -> Status[Capa]:
    return Status(201, services.create_capa(actor=api_user(request), **payload.dict()))


@router.get("/capas/{capa_id}", response={200: CapaOut, **ERRORS}, tags=C)
def get_capa(request: HttpRequest, capa_id: int) -> Capa:
    _reader(request)
    found = selectors.capas().filter(pk=capa_id).first()  # type: ignore[union-attr]
    if found is None:
        raise NotFound(f"capa {capa_id} does not exist", field="capa_id")
    return found


@router.post("/capas/{capa_id}/deviations", response={200: CapaOut, **ERRORS}, tags=C)
def link_deviation(request: HttpRequest, capa_id: int, payload: LinkDeviationIn) -> Capa:
    link = services.link_deviation(
        actor=api_user(request), capa_id=capa_id, deviation_id=payload.deviation_id
    )
    return link.capa


@router.post("/capas/{capa_id}/actions", response={201: ActionOut, **ERRORS}, tags=C)
def add_action(request: HttpRequest, capa_id: int, payload: ActionIn) -> Status[Any]:
    return Status(
        201, services.add_action(actor=api_user(request), capa_id=capa_id, **payload.dict())
    )


@router.post("/capa-actions/{action_id}/start", response={200: ActionOut, **ERRORS}, tags=C)
def start_action(request: HttpRequest, action_id: int) -> Any:
    return services.start_action(actor=api_user(request), action_id=action_id)


@router.post("/capa-actions/{action_id}/complete", response={200: ActionOut, **ERRORS}, tags=C)
def complete_action(request: HttpRequest, action_id: int, payload: EvidenceIn) -> Any:
    return services.complete_action(actor=api_user(request), action_id=action_id, **payload.dict())


@router.post("/capa-actions/{action_id}/cancel", response={200: ActionOut, **ERRORS}, tags=C)
def cancel_action(request: HttpRequest, action_id: int, payload: ReasonIn) -> Any:
    return services.cancel_action(
        actor=api_user(request), action_id=action_id, reason=payload.reason
    )


@router.post("/capas/{capa_id}/checks", response={201: EffectivenessCheckOut, **ERRORS}, tags=C)
def plan_check(request: HttpRequest, capa_id: int, payload: CheckIn) -> Status[Any]:
    check = services.plan_effectiveness_check(
        actor=api_user(request), capa_id=capa_id, **payload.dict()
    )
    return Status(201, check)


@router.post(
    "/capa-checks/{check_id}/record", response={200: EffectivenessCheckOut, **ERRORS}, tags=C
)
def record_check(request: HttpRequest, check_id: int, payload: CheckResultIn) -> Any:
    return services.record_effectiveness_check(
        actor=api_user(request), check_id=check_id, request=request, **payload.dict()
    )


@router.post("/capas/{capa_id}/close", response={200: CapaOut, **ERRORS}, tags=C)
def close_capa(request: HttpRequest, capa_id: int, payload: CommentIn) -> Capa:
    return services.close_capa(actor=api_user(request), capa_id=capa_id, comment=payload.comment)


@router.post("/capas/{capa_id}/cancel", response={200: CapaOut, **ERRORS}, tags=C)
def cancel_capa(request: HttpRequest, capa_id: int, payload: ReasonIn) -> Capa:
    return services.cancel_capa(actor=api_user(request), capa_id=capa_id, reason=payload.reason)


# --- change control -------------------------------------------------------------------------
CC = ["change control"]


@router.get("/change-controls", response={200: list[ChangeOut], **ERRORS}, tags=CC)
def list_changes(request: HttpRequest, filters: Query[ChangeFilter]) -> list[Any]:
    _reader(request)
    rows = api_rows(ChangeApiFilterSet, filters, selectors.change_controls(), request)  # type: ignore[arg-type]
    return _page(rows, filters)


@router.post("/change-controls", response={201: ChangeOut, **ERRORS}, tags=CC)
def create_change(request: HttpRequest, payload: ChangeIn) -> Status[ChangeControl]:
    return Status(201, services.create_change(actor=api_user(request), **payload.dict()))


@router.get("/change-controls/{change_id}", response={200: ChangeOut, **ERRORS}, tags=CC)
def get_change(request: HttpRequest, change_id: int) -> ChangeControl:
    _reader(request)
    return _get(ChangeControl, change_id, "change_id")  # type: ignore[no-any-return]


@router.patch("/change-controls/{change_id}", response={200: ChangeOut, **ERRORS}, tags=CC)
def update_change(request: HttpRequest, change_id: int, payload: ChangePatch) -> ChangeControl:
    fields = payload.dict(exclude_unset=True)
    reason = fields.pop("reason", "")
    return services.update_change(
        actor=api_user(request), change_id=change_id, reason=reason, **fields
    )


@router.post("/change-controls/{change_id}/submit", response={200: ChangeOut, **ERRORS}, tags=CC)
def submit_change(request: HttpRequest, change_id: int) -> ChangeControl:
    return services.submit_change(actor=api_user(request), change_id=change_id)


@router.post("/change-controls/{change_id}/approve", response={201: ApprovalOut, **ERRORS}, tags=CC)
def approve_change(request: HttpRequest, change_id: int, payload: ChangeApproveIn) -> Status[Any]:
    approval = services.approve_change(
        actor=api_user(request), change_id=change_id, request=request, **payload.dict()
    )
    return Status(201, approval)


@router.post("/change-controls/{change_id}/reject", response={200: ChangeOut, **ERRORS}, tags=CC)
def reject_change(request: HttpRequest, change_id: int, payload: ReasonIn) -> ChangeControl:
    return services.reject_change(
        actor=api_user(request), change_id=change_id, reason=payload.reason
    )


@router.post("/change-controls/{change_id}/implement", response={200: ChangeOut, **ERRORS}, tags=CC)
def start_implementation(request: HttpRequest, change_id: int) -> ChangeControl:
    return services.start_implementation(actor=api_user(request), change_id=change_id)


@router.post("/change-controls/{change_id}/tasks", response={201: TaskOut, **ERRORS}, tags=CC)
def add_task(request: HttpRequest, change_id: int, payload: TaskIn) -> Status[Any]:
    return Status(
        201, services.add_task(actor=api_user(request), change_id=change_id, **payload.dict())
    )


@router.post("/change-tasks/{task_id}/complete", response={200: TaskOut, **ERRORS}, tags=CC)
def complete_task(request: HttpRequest, task_id: int, payload: EvidenceIn) -> Any:
    return services.complete_task(actor=api_user(request), task_id=task_id, **payload.dict())


@router.post("/change-tasks/{task_id}/cancel", response={200: TaskOut, **ERRORS}, tags=CC)
def cancel_task(request: HttpRequest, task_id: int, payload: ReasonIn) -> Any:
    return services.cancel_task(actor=api_user(request), task_id=task_id, reason=payload.reason)


@router.post("/change-controls/{change_id}/close", response={200: ChangeOut, **ERRORS}, tags=CC)
def close_change(request: HttpRequest, change_id: int, payload: CommentIn) -> ChangeControl:
    return services.close_change(
        actor=api_user(request), change_id=change_id, comment=payload.comment
    )


@router.post("/change-controls/{change_id}/cancel", response={200: ChangeOut, **ERRORS}, tags=CC)
def cancel_change(request: HttpRequest, change_id: int, payload: ReasonIn) -> ChangeControl:
    return services.cancel_change(
        actor=api_user(request), change_id=change_id, reason=payload.reason
    )


# --- reports --------------------------------------------------------------------------------
@router.get("/overdue", response={200: OverdueOut, **ERRORS})
def overdue(request: HttpRequest) -> Any:
    _reader(request)
    return selectors.overdue()


@router.get("/my-actions", response={200: MyWorkOut, **ERRORS})
def my_actions(request: HttpRequest) -> Any:
    return selectors.my_open_actions(_reader(request))
