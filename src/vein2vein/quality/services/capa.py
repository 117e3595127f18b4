"""CAPA: corrective and preventive actions, an effectiveness check, closure.

A CAPA closes only when every action is done (or cancelled with a reason) and its latest
effectiveness check passed; the check is signed by someone who owns none of the actions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.http import HttpRequest

from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.models import Site, User
from vein2vein.core.permissions import require
from vein2vein.core.services.signatures import apply_signature, check_password_for_signing
from vein2vein.core.time import now

from .. import permissions as _perms  # noqa: F401 - registers the quality permissions
from ..choices import (
    ACTION_FINISHED,
    ACTION_TRANSITIONS,
    CAPA_TRANSITIONS,
    ActionKind,
    ActionStatus,
    CapaStatus,
    CheckResult,
)
from ..models import Capa, CapaAction, CapaDeviation, Deviation, EffectivenessCheck
from ..permissions import QPerm
from . import _common as c


def _capa_snapshot(capa: Capa) -> dict[str, object]:
    return c.snapshot(capa, Capa.RECORD_FIELDS)


def _action_snapshot(action: CapaAction) -> dict[str, object]:
    return c.snapshot(action, CapaAction.RECORD_FIELDS)


def _require_open(capa: Capa) -> None:
    if capa.status != CapaStatus.OPEN:
        raise c.Conflict(f"CAPA {capa.number} is {capa.status}", field="status")


def _linkable(deviation_id: object, field: str) -> Deviation:
    dev = c.fetch(Deviation, deviation_id, field)
    if not dev.is_active:
        raise c.Conflict(
            f"deviation {dev.number} is {dev.status}: a CAPA cannot be linked to it", field=field
        )
    return dev


def _link(capa: Capa, dev: Deviation, actor: User) -> None:
    CapaDeviation.objects.create(capa=capa, deviation=dev, linked_by=actor, linked_at=now())
    change = {"capa": {"old": None, "new": capa.number}}
    audit.append_event(
        actor=actor, action="quality.deviation.capa_linked", record=dev, changes=change
    )
    audit.append_event(
        actor=actor,
        action="quality.capa.deviation_linked",
        record=capa,
        changes={"deviation": {"old": None, "new": dev.number}},
    )


def create_capa(
    *,
    actor: User,
    title: str,
    description: str,
    site_id: int | Site | None = None,
    owner_id: int | None = None,
    deviation_ids: Iterable[int] = (),
) -> Capa:
    """Open a CAPA, for one or more deviations (their site by default) or standalone."""
    ids = list(dict.fromkeys(deviation_ids))
    devs = [_linkable(pk, "deviation_ids") for pk in ids]
    if site_id is None and not devs:
        raise c.ValidationFailed("site_id is required for a standalone CAPA", field="site_id")
    at = c.site(site_id) if site_id is not None else devs[0].site
    require(actor, QPerm.CAPA_MANAGE, at)
    for dev in devs:
        require(actor, QPerm.CAPA_MANAGE, dev.site)
    values = {
        "title": c.text(title, "title", max_length=200),
        "description": c.text(description, "description", max_length=c.LONG),
    }
    owner = actor if owner_id is None else c.person(owner_id, "owner_id", at)
    with transaction.atomic():
        capa = Capa(
            number=c.next_number("CAPA", at),
            site=at,
            owner=owner,
            created_by=actor,
            created_at=now(),
            **values,
        )
        capa.save(force_insert=True)
        audit.append_event(
            actor=actor,
            action="quality.capa.created",
            record=capa,
            changes=c.created(_capa_snapshot(capa)),
        )
        for dev in devs:
            dev = c.locked(Deviation, dev.pk, "deviation_ids")
            if not dev.is_active:
                raise c.Conflict(f"deviation {dev.number} is {dev.status}", field="deviation_ids")
            _link(capa, dev, actor)
    return capa


def link_deviation(*, actor: User, capa_id: int, deviation_id: int) -> CapaDeviation:
    capa = c.fetch(Capa, capa_id, "capa_id")
    dev = _linkable(deviation_id, "deviation_id")
    require(actor, QPerm.CAPA_MANAGE, capa.site)
    require(actor, QPerm.CAPA_MANAGE, dev.site)
    with transaction.atomic():
        capa = c.locked(Capa, capa.pk, "capa_id")
        dev = c.locked(Deviation, dev.pk, "deviation_id")
        _require_open(capa)
        if not dev.is_active:
            raise c.Conflict(f"deviation {dev.number} is {dev.status}", field="deviation_id")
        if CapaDeviation.objects.filter(capa=capa, deviation=dev).exists():
            raise c.ValidationFailed(
                f"{capa.number} is already linked to {dev.number}", field="deviation_id"
            )
        _link(capa, dev, actor)
    return CapaDeviation.objects.get(capa=capa, deviation=dev)


# --- actions --------------------------------------------------------------------------------
def add_action(
    *,
    actor: User,
    capa_id: int,
    kind: str,
    description: str,
    owner_id: int,
    due_date: dt.date,
) -> CapaAction:
    capa = c.fetch(Capa, capa_id, "capa_id")
    require(actor, QPerm.CAPA_MANAGE, capa.site)
    values = {
        "kind": c.choice(kind, "kind", ActionKind.values),
        "description": c.text(description, "description", max_length=c.LONG),
        "owner": c.person(owner_id, "owner_id", capa.site),
        "due_date": c.future_date(due_date, "due_date", capa.site),
    }
    with transaction.atomic():
        capa = c.locked(Capa, capa.pk, "capa_id")
        _require_open(capa)
        action = CapaAction.objects.create(capa=capa, created_by=actor, created_at=now(), **values)
        audit.append_event(
            actor=actor,
            action="quality.capa.action_added",
            record=action,
            changes=c.created(_action_snapshot(action)),
        )
    return action


def _action_for_owner(actor: User, action_id: int) -> CapaAction:
    action = c.fetch(CapaAction, action_id, "action_id")
    c.require_owner_or(
        actor, action.owner_id, QPerm.CAPA_MANAGE, action.capa.site, QPerm.CAPA_ACTION_WORK
    )
    return action


def _locked_action(action_id: int) -> CapaAction:
    action = c.locked(CapaAction, action_id, "action_id")
    _require_open(c.locked(Capa, action.capa_id, "capa_id"))
    return action


def start_action(*, actor: User, action_id: int) -> CapaAction:
    """open → in progress (the owner, or a CAPA manager)."""
    action = _action_for_owner(actor, action_id)
    with transaction.atomic():
        action = _locked_action(action.pk)
        changes = c.move(action, ActionStatus.IN_PROGRESS, ACTION_TRANSITIONS, "action")
        action.save(update_fields=["status", "updated_at"])
        audit.append_event(
            actor=actor, action="quality.capa.action_started", record=action, changes=changes
        )
    return action


def complete_action(
    *, actor: User, action_id: int, evidence: str, evidence_ref: str = ""
) -> CapaAction:
    """Done, with the evidence that shows it (the owner, or a CAPA manager)."""
    action = _action_for_owner(actor, action_id)
    proof = c.text(evidence, "evidence", max_length=c.LONG)
    ref = c.text(evidence_ref, "evidence_ref", max_length=200, required=False)
    with transaction.atomic():
        action = _locked_action(action.pk)
        before = _action_snapshot(action)
        c.move(action, ActionStatus.DONE, ACTION_TRANSITIONS, "action")
        action.evidence, action.evidence_ref = proof, ref
        action.completed_by, action.completed_at = actor, now()
        changes = audit.diff(before, _action_snapshot(action))
        action.save(update_fields=[*changes, "completed_at", "updated_at"])
        audit.append_event(
            actor=actor, action="quality.capa.action_done", record=action, changes=changes
        )
    return action


def cancel_action(*, actor: User, action_id: int, reason: str) -> CapaAction:
    action = c.fetch(CapaAction, action_id, "action_id")
    require(actor, QPerm.CAPA_MANAGE, action.capa.site)
    why = c.reason(reason)
    with transaction.atomic():
        action = _locked_action(action.pk)
        _cancel_action(action, actor, why)
    return action


def _cancel_action(action: CapaAction, actor: User, why: str) -> None:
    before = _action_snapshot(action)
    c.move(action, ActionStatus.CANCELLED, ACTION_TRANSITIONS, "action")
    action.cancelled_by, action.cancelled_at, action.cancel_reason = actor, now(), why
    changes = audit.diff(before, _action_snapshot(action))
    action.save(update_fields=[*changes, "cancelled_by", "cancelled_at", "updated_at"])
    audit.append_event(
        actor=actor,
        action="quality.capa.action_cancelled",
        record=action,
        changes=changes,
        reason=why,
    )


# --- effectiveness --------------------------------------------------------------------------
def plan_effectiveness_check(
    *, actor: User, capa_id: int, due_date: dt.date, criteria: str
) -> EffectivenessCheck:
    """What will show the actions worked, and by when."""
    capa = c.fetch(Capa, capa_id, "capa_id")
    require(actor, QPerm.CAPA_MANAGE, capa.site)
    day = c.future_date(due_date, "due_date", capa.site)
    what = c.text(criteria, "criteria", max_length=c.LONG)
    with transaction.atomic():
        capa = c.locked(Capa, capa.pk, "capa_id")
        _require_open(capa)
        if capa.checks.filter(result="").exists():
            raise c.Conflict(
                f"{capa.number} already has an effectiveness check waiting for its result",
                field="capa_id",
            )
        check = EffectivenessCheck.objects.create(
            capa=capa, due_date=day, criteria=what, planned_by=actor, planned_at=now()
        )
        audit.append_event(
            actor=actor,
            action="quality.capa.check_planned",
            record=check,
            changes=c.created(c.snapshot(check, EffectivenessCheck.RECORD_FIELDS)),
        )
    return check


def _check_ready(check: EffectivenessCheck, actor: User) -> None:
    if check.result:
        raise c.Conflict(f"this check already has its result: {check.result}", field="check_id")
    capa = check.capa
    _require_open(capa)
    actions = list(capa.actions.all())
    if not any(a.status == ActionStatus.DONE for a in actions):
        raise c.Conflict(f"{capa.number} has no action done yet to check", field="check_id")
    unfinished = [a for a in actions if a.status not in ACTION_FINISHED]
    if unfinished:
        raise c.Conflict(
            f"{capa.number} still has open actions: " + ", ".join(f"#{a.pk}" for a in unfinished),
            field="check_id",
        )
    if any(a.owner_id == actor.pk for a in actions):
        raise c.SignatureRefused(
            "you own an action of this CAPA: someone independent must check its effectiveness"
        )


def record_effectiveness_check(
    *,
    actor: User,
    check_id: int,
    result: str,
    password: str,
    comment: str = "",
    request: HttpRequest | None = None,
) -> EffectivenessCheck:
    """Sign the check's result (meaning reviewed), by a QA person who owns no action."""
    check = c.fetch(EffectivenessCheck, check_id, "check_id")
    require(actor, QPerm.CAPA_EFFECTIVENESS, check.capa.site)
    outcome = c.choice(result, "result", CheckResult.values)
    note = c.text(comment, "comment", max_length=c.LONG, required=outcome == CheckResult.FAIL)
    _check_ready(check, actor)
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        c.locked(Capa, check.capa_id, "capa_id")
        check = c.locked(EffectivenessCheck, check.pk, "check_id")
        _check_ready(check, actor)
        before = c.snapshot(check, EffectivenessCheck.RECORD_FIELDS)
        check.result, check.comment = outcome, note
        check.checked_by, check.checked_at = actor, now()
        changes = audit.diff(before, c.snapshot(check, EffectivenessCheck.RECORD_FIELDS))
        check.save(update_fields=[*changes, "checked_at"])
        audit.append_event(
            actor=actor,
            action="quality.capa.check_passed"
            if outcome == CheckResult.PASS
            else "quality.capa.check_failed",
            record=check,
            changes=changes,
            reason=note,
        )
        apply_signature(
            proof=proof, actor=actor, record=check, meaning=SignatureMeaning.REVIEWED, reason=note
        )
    return check


# --- closure --------------------------------------------------------------------------------
def close_capa(*, actor: User, capa_id: int, comment: str = "") -> Capa:
    """Close when every action is done or cancelled and the latest check passed."""
    capa = c.fetch(Capa, capa_id, "capa_id")
    require(actor, QPerm.CAPA_CLOSE, capa.site)
    why = c.text(comment, "comment", max_length=c.LONG, required=False)
    with c.recording_blocks(actor, "quality.capa.close", capa), transaction.atomic():
        capa = c.locked(Capa, capa.pk, "capa_id")
        _require_open(capa)
        actions = list(capa.actions.order_by("pk"))
        unfinished = [a for a in actions if a.status not in ACTION_FINISHED]
        if unfinished:
            raise c.InterlockBlocked(
                f"{capa.number} cannot close: actions not done: "
                + ", ".join(f"#{a.pk} ({a.status})" for a in unfinished),
                field="actions",
            )
        if not any(a.status == ActionStatus.DONE for a in actions):
            raise c.InterlockBlocked(
                f"{capa.number} cannot close: no action was done", field="actions"
            )
        latest = capa.checks.order_by("-planned_at", "-pk").first()
        if latest is None or latest.result != CheckResult.PASS:
            state = "none planned" if latest is None else (latest.result or "no result yet")
            raise c.InterlockBlocked(
                f"{capa.number} cannot close: its effectiveness check has not passed ({state})",
                field="effectiveness",
            )
        before = _capa_snapshot(capa)
        c.move(capa, CapaStatus.CLOSED, CAPA_TRANSITIONS, "CAPA")
        capa.closed_by, capa.closed_at, capa.closure_comment = actor, now(), why
        changes = audit.diff(before, _capa_snapshot(capa))
        capa.save(update_fields=[*changes, "closed_at", "updated_at"])
        audit.append_event(
            actor=actor, action="quality.capa.closed", record=capa, changes=changes, reason=why
        )
    return capa


def cancel_capa(*, actor: User, capa_id: int, reason: str) -> Capa:
    """Cancel with a reason; its unfinished actions are cancelled with the same reason."""
    capa = c.fetch(Capa, capa_id, "capa_id")
    require(actor, QPerm.CAPA_MANAGE, capa.site)
    why = c.reason(reason)
    with transaction.atomic():
        capa = c.locked(Capa, capa.pk, "capa_id")
        before = _capa_snapshot(capa)
        c.move(capa, CapaStatus.CANCELLED, CAPA_TRANSITIONS, "CAPA")
        capa.cancelled_by, capa.cancelled_at, capa.cancel_reason = actor, now(), why
        changes = audit.diff(before, _capa_snapshot(capa))
        capa.save(update_fields=[*changes, "cancelled_by", "cancelled_at", "updated_at"])
        audit.append_event(
            actor=actor, action="quality.capa.cancelled", record=capa, changes=changes, reason=why
        )
        for action in capa.actions.select_for_update(no_key=True, of=("self",)).exclude(
            status__in=ACTION_FINISHED
        ):
            _cancel_action(action, actor, f"CAPA {capa.number} cancelled: {why}")
    return capa
