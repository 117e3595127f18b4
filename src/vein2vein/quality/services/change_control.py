"""Change control: request, impact assessment, approvals by e-signature, implementation, closure.

draft → submitted → approved (when every required role has signed) → implementing → closed,
or rejected / cancelled with a reason. The requester never approves their own change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from vein2vein.core import audit
from vein2vein.core.choices import Role, SignatureMeaning
from vein2vein.core.models import Site, User
from vein2vein.core.permissions import active_roles, require, require_role
from vein2vein.core.services.signatures import apply_signature, check_password_for_signing
from vein2vein.core.time import now

from .. import permissions as _perms  # noqa: F401 - registers the quality permissions
from ..choices import (
    AFFECTED_KINDS,
    CHANGE_ACTIVE,
    CHANGE_TRANSITIONS,
    TASK_TRANSITIONS,
    ChangeStatus,
    TaskStatus,
    change_approver_roles,
)
from ..models import ChangeApproval, ChangeControl, ChangeTask
from ..permissions import QPerm
from . import _common as c

IMPACTS = ("validation", "regulatory", "training")


def _affected(value: object) -> dict[str, list[str]]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise c.ValidationFailed(
            f"affected must map {', '.join(AFFECTED_KINDS)} to lists", field="affected"
        )
    out: dict[str, list[str]] = {}
    for kind, items in value.items():
        if kind not in AFFECTED_KINDS:
            raise c.ValidationFailed(
                f"affected kind must be one of: {', '.join(AFFECTED_KINDS)}", field="affected"
            )
        if isinstance(items, str):
            items = items.splitlines()
        if not isinstance(items, list | tuple):
            raise c.ValidationFailed(f"affected {kind} must be a list", field="affected")
        if len(items) > 100:
            raise c.ValidationFailed(f"affected {kind}: at most 100 entries", field="affected")
        cleaned = [c.text(x, "affected", max_length=200, required=False) for x in items]
        cleaned = list(dict.fromkeys(x for x in cleaned if x))
        if cleaned:
            out[str(kind)] = cleaned
    return {k: out[k] for k in AFFECTED_KINDS if k in out}


def _impact(value: object, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise c.ValidationFailed(f"{field} must be yes, no, or not assessed yet", field=field)


_CLEANERS: dict[str, Any] = {
    "title": lambda v: c.text(v, "title", max_length=200),
    "what": lambda v: c.text(v, "what", max_length=c.LONG),
    "why": lambda v: c.text(v, "why", max_length=c.LONG),
    "affected": _affected,
    **{f"{i}_impact": (lambda name: lambda v: _impact(v, name))(f"{i}_impact") for i in IMPACTS},
    **{
        f"{i}_notes": (lambda name: lambda v: c.text(v, name, max_length=c.LONG, required=False))(
            f"{i}_notes"
        )
        for i in IMPACTS
    },
}


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(ChangeControl.EDITABLE_FIELDS))
    if unknown:
        raise c.ValidationFailed(f"{unknown[0]} cannot be changed", field=unknown[0])
    return {k: _CLEANERS[k](v) for k, v in fields.items()}


def _snapshot(change: ChangeControl) -> dict[str, Any]:
    return c.snapshot(change, ChangeControl.RECORD_FIELDS)


def _locked(change_id: int) -> ChangeControl:
    return c.locked(ChangeControl, change_id, "change_id")


def _require_requester_or_manager(actor: User, change: ChangeControl) -> None:
    c.require_owner_or(
        actor, change.requested_by_id, QPerm.CHANGE_MANAGE, change.site, QPerm.CHANGE_REQUEST
    )


# --- request --------------------------------------------------------------------------------
def create_change(
    *,
    actor: User,
    site_id: int | Site,
    title: str,
    what: str,
    why: str,
    affected: Mapping[str, Any] | None = None,
    validation_impact: bool | None = None,
    validation_notes: str = "",
    regulatory_impact: bool | None = None,
    regulatory_notes: str = "",
    training_impact: bool | None = None,
    training_notes: str = "",
) -> ChangeControl:
    """A change request, in draft until its requester submits it."""
    at = c.site(site_id)
    require(actor, QPerm.CHANGE_REQUEST, at)
    values = _clean(
        {
            "title": title,
            "what": what,
            "why": why,
            "affected": affected,
            "validation_impact": validation_impact,
            "validation_notes": validation_notes,
            "regulatory_impact": regulatory_impact,
            "regulatory_notes": regulatory_notes,
            "training_impact": training_impact,
            "training_notes": training_notes,
        }
    )
    with transaction.atomic():
        change = ChangeControl(
            number=c.next_number("CC", at),
            site=at,
            requested_by=actor,
            requested_at=now(),
            **values,
        )
        change.save(force_insert=True)
        audit.append_event(
            actor=actor,
            action="quality.change.requested",
            record=change,
            changes=c.created(_snapshot(change)),
        )
    return change


def update_change(*, actor: User, change_id: int, reason: str = "", **fields: Any) -> ChangeControl:
    """Edit a draft (request, affected items, impact assessment); audited old → new."""
    change = c.fetch(ChangeControl, change_id, "change_id")
    _require_requester_or_manager(actor, change)
    values = _clean(fields)
    why = c.text(reason, "reason", max_length=2000, required=False)
    with transaction.atomic():
        change = _locked(change.pk)
        if change.status != ChangeStatus.DRAFT:
            raise c.Conflict(
                f"{change.number} is {change.status}: only a draft can be edited", field="status"
            )
        before = _snapshot(change)
        for key, value in values.items():
            setattr(change, key, value)
        changes = audit.diff(before, _snapshot(change))
        if not changes:
            raise c.ValidationFailed("nothing to change: every value is as it was")
        change.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor, action="quality.change.updated", record=change, changes=changes, reason=why
        )
    return change


def _assessment_gap(change: ChangeControl) -> str | None:
    for name in IMPACTS:
        impact = getattr(change, f"{name}_impact")
        if impact is None:
            return f"{name}_impact"
        if impact and not getattr(change, f"{name}_notes"):
            return f"{name}_notes"
    return None


def submit_change(*, actor: User, change_id: int) -> ChangeControl:
    """draft → submitted, once the impact assessment is complete. The approver roles are fixed
    now, so a later configuration change does not move the goal posts."""
    change = c.fetch(ChangeControl, change_id, "change_id")
    _require_requester_or_manager(actor, change)
    with transaction.atomic():
        change = _locked(change.pk)
        if change.status == ChangeStatus.DRAFT:
            gap = _assessment_gap(change)
            if gap is not None:
                what = "notes explaining the impact" if gap.endswith("notes") else "yes or no"
                raise c.ValidationFailed(
                    f"{gap} is missing: the impact assessment needs {what}", field=gap
                )
        before = _snapshot(change)
        c.move(change, ChangeStatus.SUBMITTED, CHANGE_TRANSITIONS, "change")
        change.required_roles = list(change_approver_roles())
        change.submitted_at = now()
        changes = audit.diff(before, _snapshot(change))
        change.save(update_fields=[*changes, "submitted_at", "updated_at"])
        audit.append_event(
            actor=actor, action="quality.change.submitted", record=change, changes=changes
        )
    return change


# --- approvals ------------------------------------------------------------------------------
def pending_roles(change: ChangeControl) -> list[str]:
    done = set(change.approvals.values_list("role", flat=True))
    return [r for r in change.required_roles if r not in done]


def _approval_role(actor: User, change: ChangeControl, role: str | None) -> str:
    """The required role the actor approves as: named, or the first pending one they hold."""
    if change.status != ChangeStatus.SUBMITTED:
        raise c.Conflict(
            f"{change.number} is {change.status}: only a submitted change is approved",
            field="status",
        )
    c.refuse_self(
        actor,
        change.requested_by,
        f"you requested {change.number}: someone else must approve it",
    )
    held = {str(r) for r in active_roles(actor, change.site)}
    pending = pending_roles(change)
    if role not in (None, ""):
        chosen = c.choice(role, "role", list(change.required_roles))
        if chosen not in held:
            raise c.PermissionRefused(
                f"approving as {chosen} needs the {chosen} role at {change.site.code}",
                field="role",
            )
        if chosen not in pending:
            raise c.Conflict(f"{change.number} is already approved as {chosen}", field="role")
    else:
        mine = [r for r in pending if r in held]
        if not mine:
            if held & set(change.required_roles):
                raise c.Conflict(
                    f"{change.number} already has the approval of your role", field="role"
                )
            raise c.PermissionRefused(
                f"approving {change.number} needs one of these roles at {change.site.code}: "
                + ", ".join(change.required_roles),
                field="role",
            )
        chosen = mine[0]
    earlier = change.approvals.filter(approver=actor).first()
    if earlier is not None:
        raise c.SignatureRefused(
            f"you already approved {change.number} as {earlier.role}: each required role "
            "needs a different person",
            field="role",
        )
    return chosen


def approve_change(
    *,
    actor: User,
    change_id: int,
    password: str,
    role: str | None = None,
    reason: str = "",
    request: HttpRequest | None = None,
) -> ChangeApproval:
    """One required role approves by e-signature (meaning approved, password re-entry). The
    last approval moves the change to approved."""
    change = c.fetch(ChangeControl, change_id, "change_id")
    require(actor, QPerm.VIEW, change.site)
    why = c.text(reason, "reason", max_length=2000, required=False)
    _approval_role(actor, change, role)
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        change = _locked(change.pk)
        chosen = _approval_role(actor, change, role)
        signature = apply_signature(
            proof=proof,
            actor=actor,
            record=change,
            meaning=SignatureMeaning.APPROVED,
            reason=why,
            performed_by=change.requested_by,
        )
        approval = ChangeApproval.objects.create(
            change=change,
            role=chosen,
            approver=actor,
            signature=signature,
            approved_at=signature.signed_at,
        )
        audit.append_event(
            actor=actor,
            action="quality.change.approval_signed",
            record=change,
            changes={"approval": {"old": None, "new": chosen}},
            reason=why,
        )
        if not pending_roles(change):
            changes = c.move(change, ChangeStatus.APPROVED, CHANGE_TRANSITIONS, "change")
            change.approved_at = now()
            change.save(update_fields=["status", "approved_at", "updated_at"])
            audit.append_event(
                actor=actor, action="quality.change.approved", record=change, changes=changes
            )
    return approval


def reject_change(*, actor: User, change_id: int, reason: str) -> ChangeControl:
    """One of the required approvers rejects a submitted change, saying why."""
    change = c.fetch(ChangeControl, change_id, "change_id")
    roles = frozenset(Role(r) for r in change.required_roles or change_approver_roles())
    require_role(actor, roles, f"rejecting {change.number}", change.site)
    why = c.reason(reason)
    return _end(actor, change, ChangeStatus.REJECTED, why, "quality.change.rejected")


def cancel_change(*, actor: User, change_id: int, reason: str) -> ChangeControl:
    change = c.fetch(ChangeControl, change_id, "change_id")
    _require_requester_or_manager(actor, change)
    why = c.reason(reason)
    return _end(actor, change, ChangeStatus.CANCELLED, why, "quality.change.cancelled")


def _end(actor: User, change: ChangeControl, target: str, why: str, action: str) -> ChangeControl:
    with transaction.atomic():
        change = _locked(change.pk)
        before = _snapshot(change)
        c.move(change, target, CHANGE_TRANSITIONS, "change")
        change.ended_by, change.ended_at, change.end_reason = actor, now(), why
        changes = audit.diff(before, _snapshot(change))
        change.save(update_fields=[*changes, "ended_by", "ended_at", "updated_at"])
        audit.append_event(actor=actor, action=action, record=change, changes=changes, reason=why)
    return change


# --- implementation -------------------------------------------------------------------------
def start_implementation(*, actor: User, change_id: int) -> ChangeControl:
    change = c.fetch(ChangeControl, change_id, "change_id")
    _require_requester_or_manager(actor, change)
    with transaction.atomic():
        change = _locked(change.pk)
        changes = c.move(change, ChangeStatus.IMPLEMENTING, CHANGE_TRANSITIONS, "change")
        change.implementation_started_at = now()
        change.save(update_fields=["status", "implementation_started_at", "updated_at"])
        audit.append_event(
            actor=actor,
            action="quality.change.implementation_started",
            record=change,
            changes=changes,
        )
    return change


def add_task(
    *, actor: User, change_id: int, description: str, owner_id: int, due_date: dt.date
) -> ChangeTask:
    change = c.fetch(ChangeControl, change_id, "change_id")
    _require_requester_or_manager(actor, change)
    values = {
        "description": c.text(description, "description", max_length=c.LONG),
        "owner": c.person(owner_id, "owner_id", change.site),
        "due_date": c.future_date(due_date, "due_date", change.site),
    }
    with transaction.atomic():
        change = _locked(change.pk)
        if change.status not in CHANGE_ACTIVE:
            raise c.Conflict(f"{change.number} is {change.status}", field="status")
        task = ChangeTask.objects.create(
            change=change, created_by=actor, created_at=now(), **values
        )
        audit.append_event(
            actor=actor,
            action="quality.change.task_added",
            record=task,
            changes=c.created(c.snapshot(task, ChangeTask.RECORD_FIELDS)),
        )
    return task


def _locked_task(task_id: int) -> tuple[ChangeTask, ChangeControl]:
    task = c.locked(ChangeTask, task_id, "task_id")
    return task, _locked(task.change_id)


def complete_task(
    *, actor: User, task_id: int, evidence: str, evidence_ref: str = ""
) -> ChangeTask:
    """Done with evidence, while the change is being implemented (owner or manager)."""
    task = c.fetch(ChangeTask, task_id, "task_id")
    c.require_owner_or(
        actor, task.owner_id, QPerm.CHANGE_MANAGE, task.change.site, QPerm.CHANGE_TASK_WORK
    )
    proof = c.text(evidence, "evidence", max_length=c.LONG)
    ref = c.text(evidence_ref, "evidence_ref", max_length=200, required=False)
    with transaction.atomic():
        task, change = _locked_task(task.pk)
        if change.status != ChangeStatus.IMPLEMENTING:
            raise c.Conflict(
                f"{change.number} is {change.status}: tasks are done during implementation",
                field="status",
            )
        before = c.snapshot(task, ChangeTask.RECORD_FIELDS)
        c.move(task, TaskStatus.DONE, TASK_TRANSITIONS, "task")
        task.evidence, task.evidence_ref = proof, ref
        task.completed_by, task.completed_at = actor, now()
        changes = audit.diff(before, c.snapshot(task, ChangeTask.RECORD_FIELDS))
        task.save(update_fields=[*changes, "completed_at", "updated_at"])
        audit.append_event(
            actor=actor, action="quality.change.task_done", record=task, changes=changes
        )
    return task


def cancel_task(*, actor: User, task_id: int, reason: str) -> ChangeTask:
    task = c.fetch(ChangeTask, task_id, "task_id")
    require(actor, QPerm.CHANGE_MANAGE, task.change.site)
    why = c.reason(reason)
    with transaction.atomic():
        task, change = _locked_task(task.pk)
        if change.status not in CHANGE_ACTIVE:
            raise c.Conflict(f"{change.number} is {change.status}", field="status")
        before = c.snapshot(task, ChangeTask.RECORD_FIELDS)
        c.move(task, TaskStatus.CANCELLED, TASK_TRANSITIONS, "task")
        task.cancelled_by, task.cancelled_at, task.cancel_reason = actor, now(), why
        changes = audit.diff(before, c.snapshot(task, ChangeTask.RECORD_FIELDS))
        task.save(update_fields=[*changes, "cancelled_by", "cancelled_at", "updated_at"])
        audit.append_event(
            actor=actor,
            action="quality.change.task_cancelled",
            record=task,
            changes=changes,
            reason=why,
        )
    return task


def close_change(*, actor: User, change_id: int, comment: str = "") -> ChangeControl:
    """implementing → closed when every approval is in and every task is done."""
    change = c.fetch(ChangeControl, change_id, "change_id")
    require(actor, QPerm.CHANGE_MANAGE, change.site)
    why = c.text(comment, "comment", max_length=c.LONG, required=False)
    with c.recording_blocks(actor, "quality.change.close", change), transaction.atomic():
        change = _locked(change.pk)
        if change.status != ChangeStatus.IMPLEMENTING:
            raise c.Conflict(
                f"{change.number} is {change.status}, not implementing", field="status"
            )
        missing = pending_roles(change)
        if missing:
            raise c.InterlockBlocked(
                f"{change.number} cannot close: approvals missing from {', '.join(missing)}",
                field="approvals",
            )
        tasks = list(change.tasks.order_by("pk"))
        open_tasks = [t for t in tasks if t.status == TaskStatus.OPEN]
        if open_tasks:
            raise c.InterlockBlocked(
                f"{change.number} cannot close: tasks not done: "
                + ", ".join(f"#{t.pk}" for t in open_tasks),
                field="tasks",
            )
        if not any(t.status == TaskStatus.DONE for t in tasks):
            raise c.InterlockBlocked(
                f"{change.number} cannot close: no implementation task was done", field="tasks"
            )
        before = _snapshot(change)
        c.move(change, ChangeStatus.CLOSED, CHANGE_TRANSITIONS, "change")
        change.closed_by, change.closed_at, change.closure_comment = actor, now(), why
        changes = audit.diff(before, _snapshot(change))
        change.save(update_fields=[*changes, "closed_at", "updated_at"])
        audit.append_event(
            actor=actor, action="quality.change.closed", record=change, changes=changes, reason=why
        )
    return change
