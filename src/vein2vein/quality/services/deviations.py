"""Deviations: raise, classify, investigate, submit, close with a QA signature, cancel, extend.

`raise_deviation` is the door other apps use: it runs inside their transaction, needs no
password, and writes its own audit event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import models, transaction
from django.http import HttpRequest

from vein2vein.core import audit
from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.models import Site, User
from vein2vein.core.permissions import can_sign, has_perm, require
from vein2vein.core.services.signatures import apply_signature, check_password_for_signing
from vein2vein.core.signing import record_site, resolve_record
from vein2vein.core.time import in_zone, now

from .. import permissions as _perms  # noqa: F401 - registers the quality permissions
from ..choices import (
    ACTION_FINISHED,
    DEVIATION_TRANSITIONS,
    MAX_WHYS,
    CapaStatus,
    Classification,
    DeviationCategory,
    DeviationStatus,
    IshikawaCategory,
    RootCauseCategory,
    RootCauseMethod,
    due_days,
)
from ..models import CapaAction, Deviation, DeviationExtension, DeviationLink
from ..permissions import QPerm
from . import _common as c

Source = models.Model | tuple[str, str]


# --- input ----------------------------------------------------------------------------------
def _category(value: object) -> str:
    return c.choice(value, "category", DeviationCategory.values)


def _classification(value: object, justification: object) -> tuple[str, str]:
    cls = c.choice(value, "classification", Classification.values)
    why = c.text(justification, "classification_justification", max_length=c.LONG)
    return cls, why


def _source_ref(source: Source | None) -> tuple[str, str, models.Model | None]:
    """(record_type, record_id, instance) of the record that caused the deviation."""
    if source is None:
        return "", "", None
    if isinstance(source, models.Model):
        if source.pk is None:
            raise c.ValidationFailed("source must be a saved record", field="source")
        record_type, record_id = audit.record_ref(source)
        return record_type, record_id, source
    if (
        not isinstance(source, tuple)
        or len(source) != 2
        or not all(isinstance(p, str | int) for p in source)
    ):
        raise c.ValidationFailed(
            "source must be a record or a (record_type, record_id) pair", field="source"
        )
    record_type = c.text(source[0], "source", max_length=100)
    record_id = c.text(str(source[1]), "source", max_length=64)
    try:
        instance = resolve_record(record_type, record_id)
    except c.NotFound as exc:
        raise c.NotFound(exc.message, field="source") from exc
    except c.ValidationFailed as exc:
        raise c.ValidationFailed(exc.message, field="source") from exc
    return record_type, record_id, instance


def _default_site(actor: User | None, instance: models.Model | None) -> Site:
    """The source's site, else the one site where the actor works."""
    found = record_site(instance) if instance is not None else None
    if found is not None:
        return found
    if actor is not None:
        sites = {a.site for a in actor.role_assignments.filter(revoked_at__isnull=True)}
        active = [s for s in sites if s.is_active]
        if len(active) == 1:
            return active[0]
    raise c.ValidationFailed("site is required: the source record names no site", field="site")


def _title(title: object, description: str) -> str:
    if title is None or title == "":
        first = description.strip().splitlines()[0] if description.strip() else ""
        return first[:197] + "…" if len(first) > 200 else first
    return c.text(title, "title", max_length=200)


def _due(raised_at: dt.datetime, classification: str, site: Site) -> dt.date:
    return in_zone(raised_at, site.time_zone).date() + dt.timedelta(days=due_days(classification))


def _five_whys(value: object) -> list[dict[str, str]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple):
        raise c.ValidationFailed("five_whys must be a list of why/answer pairs", field="five_whys")
    if len(value) > MAX_WHYS:
        raise c.ValidationFailed(f"five_whys takes at most {MAX_WHYS} pairs", field="five_whys")
    out = []
    for n, pair in enumerate(value, start=1):
        if not isinstance(pair, Mapping) or set(pair) - {"why", "answer"}:
            raise c.ValidationFailed(
                f"five_whys #{n} must have a 'why' and an 'answer'", field="five_whys"
            )
        why = c.text(pair.get("why"), "five_whys", max_length=2000, required=False)
        answer = c.text(pair.get("answer"), "five_whys", max_length=2000, required=False)
        if not why and not answer:
            continue
        if not why or not answer:
            raise c.ValidationFailed(
                f"five_whys #{n} needs both the why and its answer", field="five_whys"
            )
        out.append({"why": why, "answer": answer})
    return out


def _ishikawa(value: object) -> dict[str, list[str]]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise c.ValidationFailed("ishikawa must map 6M categories to causes", field="ishikawa")
    out: dict[str, list[str]] = {}
    for key, causes in value.items():
        if key not in IshikawaCategory.values:
            raise c.ValidationFailed(
                f"ishikawa category must be one of: {', '.join(IshikawaCategory.values)}",
                field="ishikawa",
            )
        if isinstance(causes, str):
            causes = causes.splitlines()
        if not isinstance(causes, list | tuple):
            raise c.ValidationFailed(f"ishikawa {key} must be a list of causes", field="ishikawa")
        items = [c.text(x, "ishikawa", max_length=2000, required=False) for x in causes]
        items = [x for x in items if x]
        if items:
            out[str(key)] = items
    return {k: out[k] for k in IshikawaCategory.values if k in out}


_INVESTIGATION_CLEANERS: dict[str, Any] = {
    "immediate_actions": lambda v: c.text(
        v, "immediate_actions", max_length=c.LONG, required=False
    ),
    "impact_product": lambda v: c.text(v, "impact_product", max_length=c.LONG, required=False),
    "impact_patient": lambda v: c.text(v, "impact_patient", max_length=c.LONG, required=False),
    "root_cause_method": lambda v: c.choice(
        v, "root_cause_method", RootCauseMethod.values, required=False
    ),
    "five_whys": _five_whys,
    "ishikawa": _ishikawa,
    "root_cause_category": lambda v: c.choice(
        v, "root_cause_category", RootCauseCategory.values, required=False
    ),
    "root_cause": lambda v: c.text(v, "root_cause", max_length=c.LONG, required=False),
}


def _snapshot(dev: Deviation) -> dict[str, Any]:
    return c.snapshot(dev, Deviation.RECORD_FIELDS)


def _locked(deviation_id: int) -> Deviation:
    return c.locked(Deviation, deviation_id, "deviation_id")


# --- raise ----------------------------------------------------------------------------------
def _create(
    *,
    actor: User | None,
    title: object,
    description: object,
    category: object,
    site: Site,
    source: Source | None,
    detected_at: object,
    immediate_actions: object = "",
    classification: object = "",
    classification_justification: object = "",
) -> Deviation:
    if actor is not None:
        require(actor, QPerm.DEVIATION_RAISE, site)
    text = c.text(description, "description", max_length=c.LONG)
    values: dict[str, Any] = {
        "description": text,
        "title": _title(title, text),
        "category": _category(category),
        "immediate_actions": c.text(
            immediate_actions, "immediate_actions", max_length=c.LONG, required=False
        ),
    }
    if not values["title"]:
        raise c.ValidationFailed("title is required", field="title")
    if classification:
        cls, why = _classification(classification, classification_justification)
        if actor is not None:
            require(actor, QPerm.DEVIATION_MANAGE, site)
        values.update(classification=cls, classification_justification=why)
    record_type, record_id, _ = _source_ref(source)
    raised_at = now()
    detected = raised_at if detected_at is None else c.moment(detected_at, "detected_at")
    with transaction.atomic():
        dev = Deviation(
            number=c.next_number("DEV", site),
            site=site,
            status=DeviationStatus.OPEN,
            source_type=record_type,
            source_id=record_id,
            raised_by=actor,
            raised_at=raised_at,
            detected_at=detected,
            due_date=_due(raised_at, values.get("classification", ""), site),
            **values,
        )
        dev.save(force_insert=True)
        audit.append_event(
            actor=actor,
            action="quality.deviation.raised",
            record=dev,
            changes=c.created(_snapshot(dev)),
        )
    return dev


def raise_deviation(
    *,
    source: Source,
    category: str,
    description: str,
    actor: User | None,
    title: str | None = None,
    site: Site | None = None,
    detected_at: dt.datetime | None = None,
) -> Deviation:
    """Open a deviation about `source` (a record, or a (record_type, record_id) pair).

    For other apps' services: call it inside your own transaction (it nests), no password.
    `actor` None means the system raised it (e.g. a sensor alarm); otherwise the actor needs a
    GMP role at the site, which defaults to the source's site.
    """
    record_type, record_id, instance = _source_ref(source)
    at = site if site is not None else _default_site(actor, instance)
    return _create(
        actor=actor,
        title=title,
        description=description,
        category=category,
        site=at,
        source=(record_type, record_id) if instance is None else instance,
        detected_at=detected_at,
    )


def create_deviation(
    *,
    actor: User,
    site_id: int | Site,
    title: str,
    description: str,
    category: str,
    detected_at: dt.datetime | None = None,
    source_type: str = "",
    source_id: str = "",
    immediate_actions: str = "",
    classification: str = "",
    classification_justification: str = "",
) -> Deviation:
    """Raise a deviation by hand (pages, API); the source record is optional."""
    at = c.site(site_id)
    source: Source | None = None
    if source_type or source_id:
        source = (str(source_type or ""), str(source_id or ""))
    return _create(
        actor=actor,
        title=c.text(title, "title", max_length=200),
        description=description,
        category=category,
        site=at,
        source=source,
        detected_at=detected_at,
        immediate_actions=immediate_actions,
        classification=classification,
        classification_justification=classification_justification,
    )


# --- classification and investigation ------------------------------------------------------
def classify_deviation(
    *,
    actor: User,
    deviation_id: int,
    classification: str,
    justification: str,
    reason: str = "",
) -> Deviation:
    """Set or change the classification; a change needs a reason. The due date follows the
    classification unless QA has already extended it."""
    dev = c.fetch(Deviation, deviation_id, "deviation_id")
    require(actor, QPerm.DEVIATION_MANAGE, dev.site)
    cls, why = _classification(classification, justification)
    if dev.classification:
        change_reason = c.reason(reason)
    else:
        change_reason = c.text(reason, "reason", max_length=2000, required=False)
    with transaction.atomic():
        dev = _locked(dev.pk)
        if not dev.is_active:
            raise c.Conflict(f"deviation {dev.number} is {dev.status}", field="status")
        if dev.classification and not change_reason:
            raise c.ValidationFailed(
                "reason is required to change a classification", field="reason"
            )
        before = _snapshot(dev)
        dev.classification = cls
        dev.classification_justification = why
        if not dev.extensions.exists():
            dev.due_date = _due(dev.raised_at, cls, dev.site)
        changes = audit.diff(before, _snapshot(dev))
        if not changes:
            raise c.ValidationFailed("nothing to change: the classification is as it was")
        dev.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor,
            action="quality.deviation.classified"
            if before["classification"] == ""
            else "quality.deviation.reclassified",
            record=dev,
            changes=changes,
            reason=change_reason,
        )
    return dev


def start_investigation(
    *, actor: User, deviation_id: int, investigator_id: int | None = None
) -> Deviation:
    """open → under investigation, with a named investigator (default: the actor)."""
    dev = c.fetch(Deviation, deviation_id, "deviation_id")
    require(actor, QPerm.DEVIATION_MANAGE, dev.site)
    investigator = (
        actor if investigator_id is None else c.person(investigator_id, "investigator_id", dev.site)
    )
    if not has_perm(investigator, QPerm.DEVIATION_MANAGE, dev.site):
        raise c.ValidationFailed(
            f"{investigator.username} may not investigate at {dev.site.code}: "
            "a supervisor or QA must lead it",
            field="investigator_id",
        )
    with transaction.atomic():
        dev = _locked(dev.pk)
        if not dev.classification:
            raise c.Conflict(
                f"classify {dev.number} before its investigation starts", field="classification"
            )
        before = _snapshot(dev)
        c.move(dev, DeviationStatus.UNDER_INVESTIGATION, DEVIATION_TRANSITIONS, "deviation")
        dev.investigator = investigator
        dev.investigation_started_at = now()
        changes = audit.diff(before, _snapshot(dev))
        dev.save(update_fields=[*changes, "investigation_started_at", "updated_at"])
        audit.append_event(
            actor=actor,
            action="quality.deviation.investigation_started",
            record=dev,
            changes=changes,
        )
    return dev


def update_investigation(
    *, actor: User, deviation_id: int, reason: str = "", **fields: Any
) -> Deviation:
    """Record immediate actions, impact and root cause. Overwriting something already written
    needs a reason; the old text stays in the audit trail."""
    dev = c.fetch(Deviation, deviation_id, "deviation_id")
    require(actor, QPerm.DEVIATION_MANAGE, dev.site)
    unknown = sorted(set(fields) - set(_INVESTIGATION_CLEANERS))
    if unknown:
        raise c.ValidationFailed(f"{unknown[0]} cannot be changed here", field=unknown[0])
    values = {k: _INVESTIGATION_CLEANERS[k](v) for k, v in fields.items()}
    why = c.text(reason, "reason", max_length=2000, required=False)
    with transaction.atomic():
        dev = _locked(dev.pk)
        if dev.status not in (DeviationStatus.OPEN, DeviationStatus.UNDER_INVESTIGATION):
            raise c.Conflict(
                f"deviation {dev.number} is {dev.status}: the investigation is no longer open",
                field="status",
            )
        before = _snapshot(dev)
        for key, value in values.items():
            setattr(dev, key, value)
        changes = audit.diff(before, _snapshot(dev))
        if not changes:
            raise c.ValidationFailed("nothing to change: every value is as it was")
        overwritten = [k for k in changes if not c.is_blank(before[k])]
        if overwritten and not why:
            raise c.ValidationFailed(
                f"reason is required to change {overwritten[0]}, which was already recorded",
                field="reason",
            )
        dev.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor,
            action="quality.deviation.investigation_updated",
            record=dev,
            changes=changes,
            reason=why,
        )
    return dev


def _missing_for_approval(dev: Deviation) -> tuple[str, str] | None:
    checks: list[tuple[bool, str, str]] = [
        (bool(dev.classification), "classification", "classify it"),
        (bool(dev.impact_product), "impact_product", "assess the impact on product"),
        (bool(dev.impact_patient), "impact_patient", "assess the impact on patient"),
        (bool(dev.root_cause_method), "root_cause_method", "choose a root-cause method"),
        (
            dev.root_cause_method != RootCauseMethod.FIVE_WHYS or bool(dev.five_whys),
            "five_whys",
            "record at least one why and its answer",
        ),
        (
            dev.root_cause_method != RootCauseMethod.ISHIKAWA or bool(dev.ishikawa),
            "ishikawa",
            "record causes in at least one 6M category",
        ),
        (bool(dev.root_cause_category), "root_cause_category", "choose a root-cause category"),
        (bool(dev.root_cause), "root_cause", "state the root cause"),
    ]
    for ok, field, todo in checks:
        if not ok:
            return field, todo
    return None


def submit_for_approval(*, actor: User, deviation_id: int) -> Deviation:
    """under investigation → pending QA approval, once impact and root cause are recorded."""
    dev = c.fetch(Deviation, deviation_id, "deviation_id")
    require(actor, QPerm.DEVIATION_MANAGE, dev.site)
    with transaction.atomic():
        dev = _locked(dev.pk)
        if dev.status == DeviationStatus.UNDER_INVESTIGATION:
            missing = _missing_for_approval(dev)
            if missing is not None:
                field, todo = missing
                raise c.ValidationFailed(
                    f"{field} is missing: {todo} before submitting for QA approval", field=field
                )
        changes = c.move(
            dev, DeviationStatus.PENDING_QA_APPROVAL, DEVIATION_TRANSITIONS, "deviation"
        )
        dev.submitted_by = actor
        dev.submitted_at = now()
        dev.save(update_fields=["status", "submitted_by", "submitted_at", "updated_at"])
        audit.append_event(
            actor=actor, action="quality.deviation.submitted", record=dev, changes=changes
        )
    return dev


def return_to_investigation(*, actor: User, deviation_id: int, reason: str) -> Deviation:
    """QA sends a deviation back to its investigator, saying why."""
    dev = c.fetch(Deviation, deviation_id, "deviation_id")
    require(actor, QPerm.DEVIATION_CLOSE, dev.site)
    why = c.reason(reason)
    with transaction.atomic():
        dev = _locked(dev.pk)
        if dev.status != DeviationStatus.PENDING_QA_APPROVAL:
            raise c.Conflict(
                f"deviation {dev.number} is {dev.status}, not pending QA approval", field="status"
            )
        changes = c.move(
            dev, DeviationStatus.UNDER_INVESTIGATION, DEVIATION_TRANSITIONS, "deviation"
        )
        dev.save(update_fields=["status", "updated_at"])
        audit.append_event(
            actor=actor,
            action="quality.deviation.returned",
            record=dev,
            changes=changes,
            reason=why,
        )
    return dev


def cancel_deviation(*, actor: User, deviation_id: int, reason: str) -> Deviation:
    """Cancel (raised in error, duplicate) from open or under investigation, with a reason."""
    dev = c.fetch(Deviation, deviation_id, "deviation_id")
    require(actor, QPerm.DEVIATION_MANAGE, dev.site)
    why = c.reason(reason)
    with transaction.atomic():
        dev = _locked(dev.pk)
        before = _snapshot(dev)
        c.move(dev, DeviationStatus.CANCELLED, DEVIATION_TRANSITIONS, "deviation")
        dev.cancelled_by = actor
        dev.cancelled_at = now()
        dev.cancel_reason = why
        changes = audit.diff(before, _snapshot(dev))
        dev.save(update_fields=[*changes, "cancelled_at", "updated_at"])
        audit.append_event(
            actor=actor,
            action="quality.deviation.cancelled",
            record=dev,
            changes=changes,
            reason=why,
        )
    return dev


# --- due date -------------------------------------------------------------------------------
def _extension_meaning(actor: User, site: Site) -> SignatureMeaning:
    """QA approvers sign an extension 'approved'; QA reviewers, whom the signing rules do not
    let approve, sign it 'reviewed'."""
    if can_sign(actor, SignatureMeaning.APPROVED, site):
        return SignatureMeaning.APPROVED
    return SignatureMeaning.REVIEWED


def extend_due_date(
    *,
    actor: User,
    deviation_id: int,
    new_due_date: dt.date,
    reason: str,
    password: str,
    request: HttpRequest | None = None,
) -> DeviationExtension:
    """Move the due date later with a reason and a QA signature; the old date stays in the
    audit trail and on the extension record."""
    dev = c.fetch(Deviation, deviation_id, "deviation_id")
    require(actor, QPerm.DEVIATION_EXTEND, dev.site)
    day = c.future_date(new_due_date, "new_due_date", dev.site)
    why = c.reason(reason)
    meaning = _extension_meaning(actor, dev.site)
    if not dev.is_active:
        raise c.Conflict(f"deviation {dev.number} is {dev.status}", field="status")
    if day <= dev.due_date:
        raise c.ValidationFailed(
            f"new_due_date must be after the current due date {dev.due_date}", field="new_due_date"
        )
    proof = check_password_for_signing(actor, password, request)
    with transaction.atomic():
        dev = _locked(dev.pk)
        if not dev.is_active:
            raise c.Conflict(f"deviation {dev.number} is {dev.status}", field="status")
        if day <= dev.due_date:
            raise c.ValidationFailed(
                f"new_due_date must be after the current due date {dev.due_date}",
                field="new_due_date",
            )
        extension = DeviationExtension.objects.create(
            deviation=dev,
            old_due_date=dev.due_date,
            new_due_date=day,
            reason=why,
            granted_by=actor,
            granted_at=now(),
        )
        changes = {"due_date": {"old": dev.due_date, "new": day}}
        dev.due_date = day
        dev.save(update_fields=["due_date", "updated_at"])
        audit.append_event(
            actor=actor,
            action="quality.deviation.due_date_extended",
            record=dev,
            changes={**changes, "extension": {"old": None, "new": extension.pk}},
            reason=why,
        )
        apply_signature(proof=proof, actor=actor, record=extension, meaning=meaning, reason=why)
    return extension


# --- closure --------------------------------------------------------------------------------
def _open_actions(dev: Deviation) -> list[CapaAction]:
    return list(
        CapaAction.objects.filter(capa__deviation_links__deviation=dev)
        .exclude(capa__status=CapaStatus.CANCELLED)
        .exclude(status__in=ACTION_FINISHED)
        .select_related("capa")
        .order_by("pk")
    )


def _justifications(value: Mapping[Any, Any] | None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise c.ValidationFailed(
            "justifications must map CAPA action ids to text", field="justifications"
        )
    out: dict[str, str] = {}
    for key, text in value.items():
        if not str(key).isdigit():
            raise c.ValidationFailed(
                f"justifications: {key!r} is not a CAPA action id", field="justifications"
            )
        cleaned = c.text(text, "justifications", max_length=2000, required=False)
        if cleaned:
            out[str(int(key))] = cleaned
    return out


def _check_four_eyes(actor: User, dev: Deviation) -> None:
    c.refuse_self(
        actor, dev.raised_by, f"you raised {dev.number}: another QA approver must close it"
    )
    c.refuse_self(
        actor, dev.investigator, f"you investigated {dev.number}: another QA approver must close it"
    )


def close_deviation(
    *,
    actor: User,
    deviation_id: int,
    password: str,
    comment: str = "",
    justifications: Mapping[Any, str] | None = None,
    request: HttpRequest | None = None,
) -> Deviation:
    """Close with the QA approver's signature (meaning approved).

    Refused (and the attempt recorded) while a linked CAPA action is neither done nor
    justified; refused to whoever raised or investigated it (four eyes).
    """
    dev = c.fetch(Deviation, deviation_id, "deviation_id")
    require(actor, QPerm.DEVIATION_CLOSE, dev.site)
    why = c.text(comment, "comment", max_length=c.LONG, required=False)
    given = _justifications(justifications)
    if dev.status != DeviationStatus.PENDING_QA_APPROVAL:
        raise c.Conflict(
            f"deviation {dev.number} is {dev.status}, not pending QA approval", field="status"
        )
    _check_four_eyes(actor, dev)
    proof = check_password_for_signing(actor, password, request)
    with c.recording_blocks(actor, "quality.deviation.close", dev), transaction.atomic():
        dev = _locked(dev.pk)
        if dev.status != DeviationStatus.PENDING_QA_APPROVAL:
            raise c.Conflict(
                f"deviation {dev.number} is {dev.status}, not pending QA approval",
                field="status",
            )
        _check_four_eyes(actor, dev)
        still_open = _open_actions(dev)
        known = {str(a.pk) for a in still_open}
        stray = sorted(set(given) - known, key=int)
        if stray:
            raise c.ValidationFailed(
                f"justifications: action {stray[0]} is not an open action of a linked CAPA",
                field="justifications",
            )
        unjustified = [a for a in still_open if str(a.pk) not in given]
        if unjustified:
            names = ", ".join(f"{a.capa.number} action #{a.pk} ({a.status})" for a in unjustified)
            raise c.InterlockBlocked(
                f"{dev.number} cannot close: CAPA actions not done and not justified: {names}",
                field="justifications",
            )
        before = _snapshot(dev)
        c.move(dev, DeviationStatus.CLOSED, DEVIATION_TRANSITIONS, "deviation")
        dev.closed_by = actor
        dev.closed_at = now()
        dev.closure_comment = why
        dev.closure_justifications = given
        changes = audit.diff(before, _snapshot(dev))
        dev.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor, action="quality.deviation.closed", record=dev, changes=changes, reason=why
        )
        apply_signature(
            proof=proof,
            actor=actor,
            record=dev,
            meaning=SignatureMeaning.APPROVED,
            reason=why,
            performed_by=dev.investigator,
        )
    return dev


# --- affected records -----------------------------------------------------------------------
def link_record(
    *, actor: User, deviation_id: int, record_type: str, record_id: str, note: str = ""
) -> DeviationLink:
    """Link an affected record (batch, lot, equipment, order, sample, alarm...)."""
    dev = c.fetch(Deviation, deviation_id, "deviation_id")
    require(actor, QPerm.DEVIATION_RAISE, dev.site)
    rtype = c.text(record_type, "record_type", max_length=100)
    rid = c.text(
        str(record_id) if isinstance(record_id, int) else record_id, "record_id", max_length=64
    )
    why = c.text(note, "note", max_length=2000, required=False)
    target = resolve_record(rtype, rid)
    rtype, rid = audit.record_ref(target)
    if (rtype, rid) == audit.record_ref(dev):
        raise c.ValidationFailed("a deviation cannot be linked to itself", field="record_id")
    with transaction.atomic():
        dev = _locked(dev.pk)
        if not dev.is_active:
            raise c.Conflict(f"deviation {dev.number} is {dev.status}", field="status")
        if dev.links.filter(record_type=rtype, record_id=rid, removed_at__isnull=True).exists():
            raise c.ValidationFailed(f"{rtype} {rid} is already linked", field="record_id")
        link = DeviationLink.objects.create(
            deviation=dev,
            record_type=rtype,
            record_id=rid,
            note=why,
            linked_by=actor,
            linked_at=now(),
        )
        audit.append_event(
            actor=actor,
            action="quality.deviation.record_linked",
            record=dev,
            changes={
                "link": {"old": None, "new": f"{rtype}:{rid}"},
                "note": {"old": None, "new": why},
            },
        )
    return link


def remove_link(*, actor: User, link_id: int, reason: str) -> DeviationLink:
    """Links are removed with a reason, never deleted."""
    link = c.fetch(DeviationLink, link_id, "link_id")
    require(actor, QPerm.DEVIATION_MANAGE, link.deviation.site)
    why = c.reason(reason)
    with transaction.atomic():
        dev = _locked(link.deviation_id)
        link = c.locked(DeviationLink, link.pk, "link_id")
        if not dev.is_active:
            raise c.Conflict(f"deviation {dev.number} is {dev.status}", field="status")
        if link.removed_at is not None:
            raise c.Conflict("this link was already removed", field="link_id")
        link.removed_by = actor
        link.removed_at = now()
        link.removal_reason = why
        link.save(update_fields=["removed_by", "removed_at", "removal_reason"])
        audit.append_event(
            actor=actor,
            action="quality.deviation.record_unlinked",
            record=dev,
            changes={"link": {"old": f"{link.record_type}:{link.record_id}", "new": None}},
            reason=why,
        )
    return link
