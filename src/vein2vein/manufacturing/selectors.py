"""Reads the batch pages, API, PDF and review share: the state of every step, what is next,
the exceptions QA reviews, and the SHA-256 of the executed record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from vein2vein.chain.choices import OrderStatus, ReceiptDecision
from vein2vein.chain.models import TherapyOrder
from vein2vein.chain.selectors import orders_for
from vein2vein.core import selectors as core_selectors
from vein2vein.core.audit import jsonable, record_ref
from vein2vein.core.models import AuditEvent, Signature, User
from vein2vein.core.permissions import has_perm
from vein2vein.core.signing import manifestation
from vein2vein.quality.models import Deviation

from . import mbr
from .choices import CURRENT, BatchStatus, EntryFlag, EntryStatus
from .models import LATE_ENTRY_SECONDS, Batch, BatchSample, MasterRecord, StepEntry
from .permissions import MfgPerm


def plain(value: Decimal | None) -> str:
    """A stored number as a person writes it: 40000000, not 40000000.0000000000."""
    if value is None:
        return ""
    return f"{value.normalize():f}"


def batches_for(user: User, status: str | None = None) -> QuerySet[Batch]:
    """The batches of the sites where `user` holds a role that may view them."""
    from vein2vein.chain.selectors import site_ids_of
    from vein2vein.core.permissions import ROLE_PERMISSIONS, active_roles

    qs = Batch.objects.select_related(
        "master_record",
        "master_record__product",
        "master_record__document_version",
        "master_record__document_version__document",
        "site",
        "order",
    )
    if not active_roles(user) & ROLE_PERMISSIONS[MfgPerm.VIEW]:
        return qs.none()
    qs = qs.filter(site_id__in=site_ids_of(user))
    if status:
        qs = qs.filter(status=status)
    return qs


def master_records() -> QuerySet[MasterRecord]:
    return MasterRecord.objects.select_related(
        "product", "document_version", "document_version__document"
    ).order_by("document_version__document__number", "-document_version__version")


@dataclass
class StepState:
    """One MBR step as it stands in a batch."""

    step: dict[str, Any]
    state: str  # done | awaiting_verification | next | waiting
    entry: StepEntry | None
    history: list[StepEntry] = field(default_factory=list)  # superseded entries, oldest first

    @property
    def key(self) -> str:
        return str(self.step["key"])


def step_states(b: Batch) -> list[StepState]:
    """Every step in MBR order with its current entry and what it waits for."""
    entries = list(
        StepEntry.objects.filter(batch=b)
        .select_related("performed_by", "verified_by")
        .order_by("seq")
    )
    current = {e.step_key: e for e in entries if e.status in CURRENT}
    older: dict[str, list[StepEntry]] = {}
    for e in entries:
        if e.status == EntryStatus.SUPERSEDED:
            older.setdefault(e.step_key, []).append(e)
    out: list[StepState] = []
    for step in mbr.steps(b.master_record.definition):
        entry = current.get(step["key"])
        if entry is not None:
            state = entry.status
        elif all(k in current and current[k].status == EntryStatus.DONE for k in step["after"]):
            state = "next"
        else:
            state = "waiting"
        out.append(StepState(step, state, entry, older.get(step["key"], [])))
    return out


def next_steps(b: Batch) -> list[StepState]:
    """The steps that may be recorded now (several where the MBR has parallel branches)."""
    if b.status != BatchStatus.IN_PROGRESS:
        return []
    return [s for s in step_states(b) if s.state == "next"]


def progress_of(batches: Sequence[Batch]) -> dict[int, tuple[int, int]]:
    """`progress` of several batches, by pk, from one query of their current entries."""
    current: dict[int, dict[str, str]] = {b.pk: {} for b in batches}
    if batches:
        for batch_id, key, status in (
            StepEntry.objects.filter(batch__in=list(batches), status__in=CURRENT)
            .order_by("seq")
            .values_list("batch_id", "step_key", "status")
        ):
            current[batch_id][key] = status  # the latest current entry of a step counts
    out: dict[int, tuple[int, int]] = {}
    for b in batches:
        steps = mbr.steps(b.master_record.definition)
        done = sum(1 for s in steps if current[b.pk].get(s["key"]) == EntryStatus.DONE)
        out[b.pk] = (done, len(steps))
    return out


def progress(b: Batch) -> tuple[int, int]:
    states = step_states(b)
    return sum(1 for s in states if s.state == EntryStatus.DONE), len(states)


@dataclass
class Exception_:
    """One item of the review by exception: what, which step or entry, and why it matters."""

    kind: str  # limit | comment | correction | deviation | late | blocked | timer | unverified
    title: str
    detail: str
    entry: StepEntry | None = None
    deviation: Deviation | None = None
    event: AuditEvent | None = None


def review_exceptions(b: Batch) -> list[Exception_]:
    """Only what needs a reviewer's eye: out-of-limit entries, comments, corrections (and
    calculations left computed from a corrected value), deviations and their status, late
    entries, refused (blocked) attempts, timer breaks."""
    items: list[Exception_] = []
    if (b.recorded_at - b.started_at).total_seconds() > LATE_ENTRY_SECONDS:
        items.append(
            Exception_(
                "late",
                "Batch start: late entry",
                f"started {b.started_at:%Y-%m-%d %H:%M} UTC, recorded "
                f"{b.recorded_at:%Y-%m-%d %H:%M} UTC",
            )
        )
    entries = list(
        StepEntry.objects.filter(batch=b)
        .select_related("performed_by", "verified_by", "corrects")
        .order_by("seq")
    )
    for e in entries:
        label = f"#{e.seq} {e.step_key}"
        if e.flag in (EntryFlag.ACTION, EntryFlag.ALERT):
            what = "action" if e.flag == EntryFlag.ACTION else "alert"
            items.append(
                Exception_(
                    "limit",
                    f"{label}: outside {what} limits",
                    f"{plain(e.value_number)} {e.unit}".strip(),
                    entry=e,
                )
            )
        if e.flag == EntryFlag.TIMER:
            items.append(
                Exception_(
                    "timer", f"{label}: timer limit broken", f"{plain(e.value_number)} min", entry=e
                )
            )
        if e.comment:
            items.append(Exception_("comment", f"{label}: comment", e.comment, entry=e))
        if e.corrects_id is not None:
            old = e.corrects
            before = (old.value_text or plain(old.value_number)) if old is not None else ""
            after = e.value_text or plain(e.value_number)
            items.append(
                Exception_(
                    "correction",
                    f"{label}: corrected",
                    f"{before} → {after}; reason: {e.correction_reason}",
                    entry=e,
                )
            )
        if e.is_late:
            items.append(
                Exception_(
                    "late",
                    f"{label}: late entry",
                    f"performed {e.performed_at:%Y-%m-%d %H:%M} UTC, recorded "
                    f"{e.recorded_at:%Y-%m-%d %H:%M} UTC",
                    entry=e,
                )
            )
        if e.status == EntryStatus.AWAITING_VERIFICATION:
            items.append(Exception_("unverified", f"{label}: awaiting verification", "", entry=e))
    items.extend(_stale_calculations(entries))
    record_type, record_id = record_ref(b)
    numbers = {e.deviation for e in entries if e.deviation}
    about = Q(source_type=record_type, source_id=record_id) | Q(number__in=numbers)
    if b.order is not None:
        order_type, order_id = record_ref(b.order)
        about |= Q(source_type=order_type, source_id=order_id)
    for dev in Deviation.objects.filter(about).order_by("number"):
        items.append(
            Exception_(
                "deviation",
                f"Deviation {dev.number}: {dev.title}",
                dev.get_status_display(),
                deviation=dev,
            )
        )
    for event in AuditEvent.objects.filter(
        record_type=record_type, record_id=record_id, action__endswith=".blocked"
    ).order_by("seq"):
        items.append(
            Exception_(
                "blocked",
                f"Refused: {event.action.removesuffix('.blocked')}",
                event.reason,
                event=event,
            )
        )
    return items


def _stale_calculations(entries: list[StepEntry]) -> list[Exception_]:
    """Current calculations computed from a value that was corrected afterwards: the reviewer
    must see that the result no longer follows from the record."""
    current = {e.step_key: e for e in entries if e.status in CURRENT}
    out: list[Exception_] = []
    for e in current.values():
        if e.step_kind != "calculation":
            continue
        for name, used in (e.details.get("inputs") or {}).items():
            source = current.get(name)
            if source is None or source.value_number is None:
                continue
            if Decimal(used) != source.value_number:
                out.append(
                    Exception_(
                        "stale",
                        f"#{e.seq} {e.step_key}: computed from a value since corrected",
                        f"{name} was {plain(Decimal(used))} when computed; it is now "
                        f"{plain(source.value_number)} (entry #{source.seq})",
                        entry=e,
                    )
                )
    return out


def signatures_of(records: list[Any]) -> dict[tuple[str, str], list[Any]]:
    """Manifestations of the signatures on each record, by (record_type, record_id)."""
    refs = [record_ref(r) for r in records]
    by_ref: dict[tuple[str, str], list[Any]] = {ref: [] for ref in refs}
    types = {t for t, _ in refs}
    ids = {i for _, i in refs}
    lookup = {record_ref(r): r for r in records}
    for sig in (
        Signature.objects.filter(record_type__in=types, record_id__in=ids)
        .select_related("signer")
        .order_by("signed_at", "pk")
    ):
        ref = (sig.record_type, sig.record_id)
        if ref in by_ref:
            by_ref[ref].append(manifestation(sig, lookup[ref]))
    return by_ref


def samples_of(b: Batch) -> QuerySet[BatchSample]:
    return BatchSample.objects.filter(batch=b).select_related("drawn_by").order_by("number")


def record_sha256(b: Batch) -> str:
    """SHA-256 over the canonical JSON of the executed record: every entry (superseded ones
    too), the MBR's definition hash and the batch's status. Printed on the PDF so a copy can
    be checked against the system."""
    content = {
        "batch": b.signed_content(),
        "samples": [
            {k: jsonable(getattr(s, k)) for k in ("number", "sample_type", "drawn_at")}
            for s in samples_of(b)
        ],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def startable_orders(user: User) -> QuerySet[TherapyOrder]:
    """Received orders at the user's sites where they may start a batch, and none started;
    not those whose receipt waits in quarantine for QA (the start interlock refuses them)."""
    site_ids = [
        s.pk for s in core_selectors.my_sites(user) if has_perm(user, MfgPerm.BATCH_START, s)
    ]
    return (
        orders_for(user)
        .filter(
            status=OrderStatus.RECEIVED,
            manufacturing_site_id__in=site_ids,
            batch__isnull=True,
        )
        .exclude(receipt__decision=ReceiptDecision.QUARANTINE)
        .order_by("ordered_at")
    )
