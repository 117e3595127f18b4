"""Reads shared by views, the API and reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db.models import Q, QuerySet

from .models import ApiToken, AuditEvent, RoleAssignment, Signature, Site, User
from .permissions import active_assignments_where, held_assignments
from .signing import manifestation


def sites(*, include_inactive: bool = True) -> QuerySet[Site]:
    qs = Site.objects.all()
    return qs if include_inactive else qs.filter(is_active=True)


def user_sites(user: User) -> QuerySet[Site]:
    """Active sites where `user` holds an active role."""
    return Site.objects.filter(
        is_active=True,
        role_assignments__user=user,
        role_assignments__revoked_at__isnull=True,
    ).distinct()


def my_sites(user: User) -> list[Site]:
    """`user_sites` as a list by code, from the assignments the request has read already."""
    found: dict[int, Site] = {}
    for a in active_assignments_where(user):
        found.setdefault(a.site_id, a.site)
    return sorted(found.values(), key=lambda s: s.code)


def current_site_for(user: User, chosen_site_id: int | None) -> Site | None:
    mine = my_sites(user)
    if chosen_site_id is not None:
        site = next((s for s in mine if s.pk == chosen_site_id), None)
        if site is not None:
            return site
    return mine[0] if mine else None


def active_assignments(user: User) -> list[RoleAssignment]:
    """Unrevoked assignments with their sites (inactive sites included), by site code, role."""
    return held_assignments(user)


def users() -> QuerySet[User]:
    return User.objects.order_by("username").prefetch_related("role_assignments__site")


def api_tokens(user: User) -> QuerySet[ApiToken]:
    return user.api_tokens.all()


def audit_events(
    *,
    record_type: str | None = None,
    record_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Audit events, newest first, filtered by record, user (username) and time range."""
    qs = AuditEvent.objects.order_by("-seq")
    if record_type:
        qs = qs.filter(record_type=record_type)
    if record_id:
        qs = qs.filter(record_id=record_id)
    if actor:
        qs = qs.filter(Q(actor_username=actor) | Q(actor_username__iexact=actor))
    if action:
        qs = qs.filter(action__startswith=action)
    if since:
        qs = qs.filter(occurred_at__gte=since)
    if until:
        qs = qs.filter(occurred_at__lt=until)
    return qs


def timeline(record_type: str, record_id: str) -> list[dict[str, object]]:
    """A record's history for its detail page: audit events and signatures, oldest first."""
    return timelines([(record_type, record_id)])[0]


def timelines(refs: Sequence[tuple[str, str]]) -> list[list[dict[str, object]]]:
    """`timeline` of each (record_type, record_id), in the order given, from one query of
    events and one of signatures."""
    out: list[list[dict[str, object]]] = [[] for _ in refs]
    slots: dict[tuple[str, str], list[int]] = {}
    ids_by_type: dict[str, set[str]] = {}
    for i, (record_type, record_id) in enumerate(refs):
        slots.setdefault((record_type, str(record_id)), []).append(i)
        ids_by_type.setdefault(record_type, set()).add(str(record_id))
    if not refs:
        return out
    where = Q(pk__in=[])
    for record_type, ids in ids_by_type.items():
        where |= Q(record_type=record_type, record_id__in=sorted(ids))
    for e in AuditEvent.objects.filter(where).order_by("seq"):
        for i in slots.get((e.record_type, e.record_id), []):
            out[i].append({"kind": "event", "at": e.occurred_at, "event": e})
    for sig in Signature.objects.filter(where).select_related("signer"):
        for i in slots.get((sig.record_type, sig.record_id), []):
            out[i].append(
                {"kind": "signature", "at": sig.signed_at, "signature": manifestation(sig)}
            )
    for items in out:
        items.sort(key=lambda item: (item["at"], 0 if item["kind"] == "event" else 1))
    return out
