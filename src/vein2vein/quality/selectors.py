"""Reads shared by the quality pages, the API, the dashboard panel and reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models import Prefetch, Q, QuerySet

from vein2vein.core import selectors as core_selectors
from vein2vein.core.audit import record_ref
from vein2vein.core.errors import DomainError
from vein2vein.core.models import Site, User
from vein2vein.core.permissions import active_assignments_where, active_roles
from vein2vein.core.signing import manifestation, resolve_record, signatures_for
from vein2vein.core.time import now

from .choices import (
    ACTION_FINISHED,
    CHANGE_ACTIVE,
    DEVIATION_ACTIVE,
    ActionStatus,
    CapaStatus,
    ChangeStatus,
    DeviationStatus,
    TaskStatus,
)
from .models import (
    Capa,
    CapaAction,
    ChangeControl,
    ChangeTask,
    Deviation,
    DeviationLink,
    EffectivenessCheck,
)

# The latest calendar day it can be anywhere on Earth: anything due before it may be overdue
# somewhere; the exact test (the site's own today) runs in Python on that short list.
_MAX_OFFSET = dt.timedelta(hours=14)


def _maybe_past(qs: QuerySet[Any], field: str = "due_date") -> QuerySet[Any]:
    latest_today = (now() + _MAX_OFFSET).date()
    return qs.filter(**{f"{field}__lt": latest_today})


def _split_overdue(qs: QuerySet[Any], candidates: QuerySet[Any], overdue: bool) -> QuerySet[Any]:
    """`qs` narrowed to the overdue rows, or to the others, still a query (paged in the
    database). Only the candidates, due before the latest today anywhere, are read in
    Python, where each is judged by today at its own site."""
    late = [row.pk for row in candidates if row.is_overdue]
    return qs.filter(pk__in=late) if overdue else qs.exclude(pk__in=late)


# --- deviations -----------------------------------------------------------------------------
def deviations(
    *,
    status: str = "",
    classification: str = "",
    category: str = "",
    overdue: bool | None = None,
    owner: User | None = None,
    site: Site | None = None,
) -> list[Deviation] | QuerySet[Deviation]:
    """Deviations newest first; `owner` is whoever raised or investigates them."""
    qs = Deviation.objects.select_related(
        "site", "raised_by", "investigator", "closed_by"
    ).prefetch_related(
        "capas", Prefetch("links", DeviationLink.objects.select_related("linked_by"))
    )
    if status == "active":
        qs = qs.filter(status__in=DEVIATION_ACTIVE)
    elif status:
        qs = qs.filter(status=status)
    if classification == "unclassified":
        qs = qs.filter(classification="")
    elif classification:
        qs = qs.filter(classification=classification)
    if category:
        qs = qs.filter(category=category)
    if owner is not None:
        qs = qs.filter(Q(raised_by=owner) | Q(investigator=owner))
    if site is not None:
        qs = qs.filter(site=site)
    if overdue is None:
        return qs
    candidates = _maybe_past(Deviation.objects.filter(status__in=DEVIATION_ACTIVE))
    return _split_overdue(qs, candidates.select_related("site"), overdue)


def describe(record_type: str, record_id: str) -> str:
    """A readable label for a generic reference; says so when the record is not found."""
    if not record_type:
        return ""
    try:
        return str(resolve_record(record_type, record_id))
    except DomainError:
        return f"{record_type} {record_id} (not found)"


def timeline(records: Iterable[models.Model]) -> list[dict[str, object]]:
    """One history over a record and its parts (links, extensions, actions, checks, tasks):
    core's timeline of each, merged in time order."""
    items: list[dict[str, object]] = []
    for part in core_selectors.timelines([record_ref(r) for r in records]):
        items.extend(part)
    items.sort(key=_when)
    return items


def _when(item: dict[str, object]) -> tuple[Any, int]:
    return item["at"], 0 if item["kind"] == "event" else 1


def signature_panel(record: models.Model) -> list[Any]:
    return [manifestation(s, record) for s in signatures_for(record)]


@dataclass
class DeviationView:
    deviation: Deviation
    source_label: str
    links: list[dict[str, Any]]
    capas: list[Capa]
    open_actions: list[CapaAction]
    extensions: list[Any]
    signatures: list[Any]
    timeline: list[dict[str, object]]


def deviation_view(dev: Deviation) -> DeviationView:
    links = [
        {"link": link, "label": describe(link.record_type, link.record_id)}
        for link in dev.links.select_related("linked_by", "removed_by")
    ]
    capas = list(dev.capas.prefetch_related("actions__owner", "checks").order_by("pk"))
    open_actions = [
        a
        for capa in capas
        if capa.status != CapaStatus.CANCELLED
        for a in capa.actions.all()
        if a.status not in ACTION_FINISHED
    ]
    extensions = list(dev.extensions.select_related("granted_by"))
    extension_sigs = [m for e in extensions for m in signature_panel(e)]
    return DeviationView(
        deviation=dev,
        source_label=describe(dev.source_type, dev.source_id),
        links=links,
        capas=capas,
        open_actions=open_actions,
        extensions=extensions,
        signatures=signature_panel(dev) + extension_sigs,
        timeline=timeline([dev, *extensions]),
    )


# --- CAPA -----------------------------------------------------------------------------------
def capas(
    *,
    status: str = "",
    owner: User | None = None,
    overdue: bool | None = None,
    site: Site | None = None,
) -> list[Capa] | QuerySet[Capa]:
    """CAPAs newest first; `owner` owns the CAPA or one of its actions."""
    qs = Capa.objects.select_related("site", "owner", "closed_by").prefetch_related(
        Prefetch("actions", CapaAction.objects.select_related("owner", "completed_by")),
        Prefetch("checks", EffectivenessCheck.objects.select_related("checked_by")),
        "deviations",
    )
    if status:
        qs = qs.filter(status=status)
    if owner is not None:
        qs = qs.filter(Q(owner=owner) | Q(actions__owner=owner)).distinct()
    if site is not None:
        qs = qs.filter(site=site)
    if overdue is None:
        return qs
    latest_today = (now() + _MAX_OFFSET).date()
    candidates = (
        Capa.objects.filter(status=CapaStatus.OPEN)
        .filter(Q(actions__due_date__lt=latest_today) | Q(checks__due_date__lt=latest_today))
        .distinct()
        .select_related("site")
        .prefetch_related(
            Prefetch("actions", CapaAction.objects.select_related("capa__site")),
            Prefetch("checks", EffectivenessCheck.objects.select_related("capa__site")),
        )
    )
    return _split_overdue(qs, candidates, overdue)


def capa_timeline(capa: Capa) -> list[dict[str, object]]:
    return timeline([capa, *capa.actions.all(), *capa.checks.all()])


# --- change control -------------------------------------------------------------------------
def change_controls(
    *,
    status: str = "",
    owner: User | None = None,
    overdue: bool | None = None,
    site: Site | None = None,
) -> list[ChangeControl] | QuerySet[ChangeControl]:
    """Change controls newest first; `owner` requested it or owns one of its tasks."""
    qs = ChangeControl.objects.select_related("site", "requested_by").prefetch_related(
        "tasks", "approvals"
    )
    if status == "active":
        qs = qs.filter(status__in=CHANGE_ACTIVE)
    elif status:
        qs = qs.filter(status=status)
    if owner is not None:
        qs = qs.filter(Q(requested_by=owner) | Q(tasks__owner=owner)).distinct()
    if site is not None:
        qs = qs.filter(site=site)
    if overdue is None:
        return qs
    late_tasks = _maybe_past(ChangeTask.objects.filter(status=TaskStatus.OPEN))
    late = {t.change_id for t in late_tasks.select_related("change__site") if t.is_overdue}
    return qs.filter(pk__in=late) if overdue else qs.exclude(pk__in=late)


def change_timeline(change: ChangeControl) -> list[dict[str, object]]:
    return timeline([change, *change.tasks.all()])


# --- reports --------------------------------------------------------------------------------
@dataclass
class Overdue:
    deviations: list[Deviation] = field(default_factory=list)
    actions: list[CapaAction] = field(default_factory=list)
    checks: list[EffectivenessCheck] = field(default_factory=list)
    tasks: list[ChangeTask] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.deviations) + len(self.actions) + len(self.checks) + len(self.tasks)


def overdue(site: Site | None = None) -> Overdue:
    """Everything past its due date, as today reads at each record's site."""
    devs = _maybe_past(Deviation.objects.filter(status__in=DEVIATION_ACTIVE)).select_related(
        "site", "raised_by", "investigator"
    )
    actions = _maybe_past(
        CapaAction.objects.filter(capa__status=CapaStatus.OPEN).exclude(status__in=ACTION_FINISHED)
    ).select_related("capa__site", "owner")
    checks = _maybe_past(
        EffectivenessCheck.objects.filter(capa__status=CapaStatus.OPEN, result="")
    ).select_related("capa__site")
    tasks = _maybe_past(
        ChangeTask.objects.filter(status=TaskStatus.OPEN, change__status__in=CHANGE_ACTIVE)
    ).select_related("change__site", "owner")
    if site is not None:
        devs = devs.filter(site=site)
        actions = actions.filter(capa__site=site)
        checks = checks.filter(capa__site=site)
        tasks = tasks.filter(change__site=site)
    return Overdue(
        deviations=sorted((d for d in devs if d.is_overdue), key=lambda d: d.due_date),
        actions=sorted((a for a in actions if a.is_overdue), key=lambda a: a.due_date),
        checks=sorted((c for c in checks if c.is_overdue), key=lambda c: c.due_date),
        tasks=sorted((t for t in tasks if t.is_overdue), key=lambda t: t.due_date),
    )


@dataclass
class MyWork:
    deviations: list[Deviation] = field(default_factory=list)
    actions: list[CapaAction] = field(default_factory=list)
    tasks: list[ChangeTask] = field(default_factory=list)
    deviation_approvals: list[Deviation] = field(default_factory=list)
    change_approvals: list[ChangeControl] = field(default_factory=list)
    checks: list[EffectivenessCheck] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(
            len(x)
            for x in (
                self.deviations,
                self.actions,
                self.tasks,
                self.deviation_approvals,
                self.change_approvals,
                self.checks,
            )
        )


def _sites_with(user: User, roles: set[str]) -> list[int]:
    return [a.site_id for a in active_assignments_where(user, lambda a: a.role in roles)]


def my_open_actions(user: User) -> MyWork:
    """What waits for `user`: deviations they raised or investigate that are still open,
    CAPA actions and change tasks they own, and approvals waiting for one of their roles."""
    work = MyWork(
        deviations=list(
            Deviation.objects.filter(status__in=DEVIATION_ACTIVE)
            .filter(Q(raised_by=user) | Q(investigator=user))
            .select_related("site")
            .order_by("due_date", "pk")
        ),
        actions=list(
            CapaAction.objects.filter(
                owner=user,
                status__in=[ActionStatus.OPEN, ActionStatus.IN_PROGRESS],
                capa__status=CapaStatus.OPEN,
            )
            .select_related("capa__site")
            .order_by("due_date", "pk")
        ),
        tasks=list(
            ChangeTask.objects.filter(
                owner=user, status=TaskStatus.OPEN, change__status__in=CHANGE_ACTIVE
            )
            .select_related("change__site")
            .order_by("due_date", "pk")
        ),
    )
    approver_sites = _sites_with(user, {"qa_approver"})
    work.deviation_approvals = [
        d
        for d in Deviation.objects.filter(
            status=DeviationStatus.PENDING_QA_APPROVAL, site_id__in=approver_sites
        )
        .exclude(raised_by=user)
        .exclude(investigator=user)
        .select_related("site")
        .order_by("due_date", "pk")
    ]
    submitted = (
        ChangeControl.objects.filter(status=ChangeStatus.SUBMITTED)
        .exclude(requested_by=user)
        .exclude(approvals__approver=user)
        .select_related("site")
        .prefetch_related("approvals")
        .order_by("submitted_at", "pk")
    )
    for change in submitted:
        held = {str(r) for r in active_roles(user, change.site)}
        done = {a.role for a in change.approvals.all()}
        if held & (set(change.required_roles) - done):
            work.change_approvals.append(change)
    qa_sites = _sites_with(user, {"qa_reviewer", "qa_approver"})
    work.checks = [
        check
        for check in EffectivenessCheck.objects.filter(
            result="", capa__status=CapaStatus.OPEN, capa__site_id__in=qa_sites
        )
        .exclude(capa__actions__owner=user)
        .select_related("capa__site")
        .order_by("due_date", "pk")
    ]
    return work


def deviation_ids(numbers: set[str]) -> dict[str, int]:
    """Deviation number -> id, for links from other apps' pages (one query)."""
    if not numbers:
        return {}
    return dict(Deviation.objects.filter(number__in=numbers).values_list("number", "pk"))
