"""API shapes for the quality system. Shapes only: the services decide what is allowed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict

from vein2vein.core.pagination import Page
from vein2vein.core.schemas import FilterText, UtcDateTime

from .models import (
    Capa,
    CapaAction,
    ChangeControl,
    ChangeTask,
    Deviation,
    DeviationExtension,
    DeviationLink,
    EffectivenessCheck,
)

Text = FilterText  # every text input refuses NUL before it reaches a service
LONG = 10_000


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


# --- shared ---------------------------------------------------------------------------------
class ReasonIn(Schema):
    reason: Text = Field(..., max_length=2000)


class CommentIn(Schema):
    comment: Text = Field("", max_length=LONG)


class EvidenceIn(Schema):
    evidence: Text = Field(..., max_length=LONG)
    evidence_ref: Text = Field("", max_length=200)


# --- deviations -----------------------------------------------------------------------------
class DeviationIn(Schema):
    site_id: int
    title: Text = Field(..., max_length=200)
    description: Text = Field(..., max_length=LONG)
    category: Text = Field(..., max_length=20, examples=["identity"])
    detected_at: UtcDateTime | None = None
    source_type: Text = Field("", max_length=100, examples=["core.site"])
    source_id: Text = Field("", max_length=64)
    immediate_actions: Text = Field("", max_length=LONG)
    classification: Text = Field("", max_length=10, examples=["major"])
    classification_justification: Text = Field("", max_length=LONG)


class DeviationFilter(Page):
    status: Text | None = Field(None, max_length=30, description="a status, or 'active'")
    classification: Text | None = Field(None, max_length=20, description="or 'unclassified'")
    category: Text | None = Field(None, max_length=20)
    overdue: bool | None = None
    owner: Text | None = Field(None, max_length=150, description="username: raised or investigates")


class ClassifyIn(Schema):
    classification: Text = Field(..., max_length=10)
    justification: Text = Field(..., max_length=LONG)
    reason: Text = Field("", max_length=2000, description="required to change a classification")


class StartInvestigationIn(Schema):
    investigator_id: int | None = None


class WhyPair(Schema):
    why: Text = Field(..., max_length=2000)
    answer: Text = Field(..., max_length=2000)


class InvestigationPatch(Schema):
    reason: Text = Field("", max_length=2000, description="required to overwrite what was written")
    immediate_actions: Text | None = Field(None, max_length=LONG)
    impact_product: Text | None = Field(None, max_length=LONG)
    impact_patient: Text | None = Field(None, max_length=LONG)
    root_cause_method: Text | None = Field(None, max_length=20, examples=["five_whys"])
    five_whys: list[WhyPair] | None = Field(None, max_length=10)
    ishikawa: dict[Text, list[Text]] | None = Field(None, examples=[{"machine": ["worn ribbon"]}])
    root_cause_category: Text | None = Field(None, max_length=20)
    root_cause: Text | None = Field(None, max_length=LONG)


class CloseIn(Schema):
    password: str = Field(..., max_length=256)
    comment: Text = Field("", max_length=LONG)
    justifications: dict[Text, Text] = Field(
        default_factory=dict, description="CAPA action id → why it may stay open"
    )


class ExtendIn(Schema):
    new_due_date: dt.date
    reason: Text = Field(..., max_length=2000)
    password: str = Field(..., max_length=256)


class LinkIn(Schema):
    record_type: Text = Field(..., max_length=100, examples=["core.site"])
    record_id: Text = Field(..., max_length=64)
    note: Text = Field("", max_length=2000)


class LinkOut(Schema):
    id: int
    record_type: str
    record_id: str
    note: str
    linked_by: str | None
    linked_at: dt.datetime
    removed_at: dt.datetime | None
    removal_reason: str

    @staticmethod
    def resolve_linked_by(obj: DeviationLink) -> str | None:
        return _username(obj.linked_by)


class ExtensionOut(Schema):
    id: int
    deviation_id: int
    old_due_date: dt.date
    new_due_date: dt.date
    reason: str
    granted_by: str
    granted_at: dt.datetime

    @staticmethod
    def resolve_granted_by(obj: DeviationExtension) -> str:
        return obj.granted_by.get_username()


class DeviationOut(Schema):
    id: int
    number: str
    title: str
    description: str
    category: str
    site: str
    status: str
    source_type: str
    source_id: str
    raised_by: str | None
    raised_at: dt.datetime
    detected_at: dt.datetime
    classification: str
    classification_justification: str
    immediate_actions: str
    impact_product: str
    impact_patient: str
    investigator: str | None
    root_cause_method: str
    five_whys: list[dict[str, str]]
    ishikawa: dict[str, list[str]]
    root_cause_category: str
    root_cause: str
    due_date: dt.date
    is_overdue: bool
    closed_by: str | None
    closed_at: dt.datetime | None
    closure_comment: str
    closure_justifications: dict[str, str]
    cancel_reason: str
    capas: list[str]
    links: list[LinkOut]

    @staticmethod
    def resolve_site(obj: Deviation) -> str:
        return obj.site.code

    @staticmethod
    def resolve_raised_by(obj: Deviation) -> str | None:
        return _username(obj.raised_by)

    @staticmethod
    def resolve_investigator(obj: Deviation) -> str | None:
        return _username(obj.investigator)

    @staticmethod
    def resolve_closed_by(obj: Deviation) -> str | None:
        return _username(obj.closed_by)

    @staticmethod
    def resolve_capas(obj: Deviation) -> list[str]:
        return [c.number for c in obj.capas.all()]

    @staticmethod
    def resolve_links(obj: Deviation) -> list[DeviationLink]:
        return list(obj.links.all())


# --- CAPA -----------------------------------------------------------------------------------
class CapaIn(Schema):
    title: Text = Field(..., max_length=200)
    description: Text = Field(..., max_length=LONG)
    site_id: int | None = Field(None, description="defaults to the first deviation's site")
    owner_id: int | None = None
    deviation_ids: list[int] = Field(default_factory=list, max_length=100)


class CapaFilter(Page):
    status: Text | None = Field(None, max_length=20)
    owner: Text | None = Field(None, max_length=150, description="username: CAPA or action owner")
    overdue: bool | None = None


class LinkDeviationIn(Schema):
    deviation_id: int


class ActionIn(Schema):
    kind: Text = Field(..., max_length=20, examples=["corrective"])
    description: Text = Field(..., max_length=LONG)
    owner_id: int
    due_date: dt.date


class ActionOut(Schema):
    id: int
    capa_id: int
    kind: str
    description: str
    owner: str
    due_date: dt.date
    status: str
    evidence: str
    evidence_ref: str
    completed_by: str | None
    completed_at: dt.datetime | None
    cancel_reason: str
    is_overdue: bool

    @staticmethod
    def resolve_owner(obj: CapaAction) -> str:
        return obj.owner.get_username()

    @staticmethod
    def resolve_completed_by(obj: CapaAction) -> str | None:
        return _username(obj.completed_by)


class CheckIn(Schema):
    due_date: dt.date
    criteria: Text = Field(..., max_length=LONG)


class CheckResultIn(Schema):
    result: Text = Field(..., max_length=10, examples=["pass"])
    comment: Text = Field("", max_length=LONG, description="required when the result is fail")
    password: str = Field(..., max_length=256)


class EffectivenessCheckOut(Schema):
    id: int
    capa_id: int
    due_date: dt.date
    criteria: str
    result: str
    comment: str
    checked_by: str | None
    checked_at: dt.datetime | None
    is_overdue: bool

    @staticmethod
    def resolve_checked_by(obj: EffectivenessCheck) -> str | None:
        return _username(obj.checked_by)


class CapaOut(Schema):
    id: int
    number: str
    title: str
    description: str
    site: str
    status: str
    owner: str
    created_at: dt.datetime
    deviations: list[str]
    actions: list[ActionOut]
    checks: list[EffectivenessCheckOut]
    is_overdue: bool
    closed_by: str | None
    closed_at: dt.datetime | None
    closure_comment: str
    cancel_reason: str

    @staticmethod
    def resolve_site(obj: Capa) -> str:
        return obj.site.code

    @staticmethod
    def resolve_owner(obj: Capa) -> str:
        return obj.owner.get_username()

    @staticmethod
    def resolve_deviations(obj: Capa) -> list[str]:
        return [d.number for d in obj.deviations.all()]

    @staticmethod
    def resolve_actions(obj: Capa) -> list[CapaAction]:
        return list(obj.actions.all())

    @staticmethod
    def resolve_checks(obj: Capa) -> list[EffectivenessCheck]:
        return list(obj.checks.all())

    @staticmethod
    def resolve_closed_by(obj: Capa) -> str | None:
        return _username(obj.closed_by)


# --- change control -------------------------------------------------------------------------
class Affected(Schema):
    model_config = ConfigDict(extra="forbid")

    documents: list[Text] = Field(default_factory=list, max_length=100)
    equipment: list[Text] = Field(default_factory=list, max_length=100)
    processes: list[Text] = Field(default_factory=list, max_length=100)
    products: list[Text] = Field(default_factory=list, max_length=100)


class ChangeIn(Schema):
    site_id: int
    title: Text = Field(..., max_length=200)
    what: Text = Field(..., max_length=LONG)
    why: Text = Field(..., max_length=LONG)
    affected: Affected = Field(default_factory=Affected)
    validation_impact: bool | None = None
    validation_notes: Text = Field("", max_length=LONG)
    regulatory_impact: bool | None = None
    regulatory_notes: Text = Field("", max_length=LONG)
    training_impact: bool | None = None
    training_notes: Text = Field("", max_length=LONG)


class ChangePatch(Schema):
    reason: Text = Field("", max_length=2000)
    title: Text | None = Field(None, max_length=200)
    what: Text | None = Field(None, max_length=LONG)
    why: Text | None = Field(None, max_length=LONG)
    affected: Affected | None = None
    validation_impact: bool | None = None
    validation_notes: Text | None = Field(None, max_length=LONG)
    regulatory_impact: bool | None = None
    regulatory_notes: Text | None = Field(None, max_length=LONG)
    training_impact: bool | None = None
    training_notes: Text | None = Field(None, max_length=LONG)


class ChangeFilter(Page):
    status: Text | None = Field(None, max_length=20, description="a status, or 'active'")
    owner: Text | None = Field(
        None, max_length=150, description="username: requester or task owner"
    )
    overdue: bool | None = None


class ChangeApproveIn(Schema):
    password: str = Field(..., max_length=256)
    role: Text | None = Field(None, max_length=20, description="default: your pending role")
    reason: Text = Field("", max_length=2000)


class TaskIn(Schema):
    description: Text = Field(..., max_length=LONG)
    owner_id: int
    due_date: dt.date


class TaskOut(Schema):
    id: int
    change_id: int
    description: str
    owner: str
    due_date: dt.date
    status: str
    evidence: str
    evidence_ref: str
    completed_by: str | None
    completed_at: dt.datetime | None
    cancel_reason: str
    is_overdue: bool

    @staticmethod
    def resolve_owner(obj: ChangeTask) -> str:
        return obj.owner.get_username()

    @staticmethod
    def resolve_completed_by(obj: ChangeTask) -> str | None:
        return _username(obj.completed_by)


class ApprovalOut(Schema):
    role: str
    approver: str
    approved_at: dt.datetime
    signature_id: int

    @staticmethod
    def resolve_approver(obj: Any) -> str:
        return str(obj.approver.get_username())


class ChangeOut(Schema):
    id: int
    number: str
    title: str
    what: str
    why: str
    site: str
    status: str
    affected: dict[str, list[str]]
    validation_impact: bool | None
    validation_notes: str
    regulatory_impact: bool | None
    regulatory_notes: str
    training_impact: bool | None
    training_notes: str
    required_roles: list[str]
    pending_roles: list[str]
    approvals: list[ApprovalOut]
    tasks: list[TaskOut]
    requested_by: str
    requested_at: dt.datetime
    closed_at: dt.datetime | None
    end_reason: str

    @staticmethod
    def resolve_site(obj: ChangeControl) -> str:
        return obj.site.code

    @staticmethod
    def resolve_requested_by(obj: ChangeControl) -> str:
        return obj.requested_by.get_username()

    @staticmethod
    def resolve_pending_roles(obj: ChangeControl) -> list[str]:
        done = {a.role for a in obj.approvals.all()}
        return [r for r in obj.required_roles if r not in done]

    @staticmethod
    def resolve_approvals(obj: ChangeControl) -> list[Any]:
        return list(obj.approvals.all())

    @staticmethod
    def resolve_tasks(obj: ChangeControl) -> list[ChangeTask]:
        return list(obj.tasks.all())


# --- reports --------------------------------------------------------------------------------
class OverdueOut(Schema):
    deviations: list[DeviationOut]
    actions: list[ActionOut]
    checks: list[EffectivenessCheckOut]
    tasks: list[TaskOut]


class MyWorkOut(Schema):
    deviations: list[DeviationOut]
    actions: list[ActionOut]
    tasks: list[TaskOut]
    deviation_approvals: list[DeviationOut]
    change_approvals: list[ChangeOut]
    checks: list[EffectivenessCheckOut]
