"""Reads shared by views, the API and reports."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from .models import ApiToken, AuditEvent, RoleAssignment, Signature, Site, User
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


def current_site_for(user: User, chosen_site_id: int | None) -> Site | None:
    mine = user_sites(user)
    if chosen_site_id is not None:
        site = mine.filter(pk=chosen_site_id).first()
        if site is not None:
            return site
    return mine.order_by("code").first()


def active_assignments(user: User) -> QuerySet[RoleAssignment]:
    return user.role_assignments.filter(revoked_at__isnull=True).select_related("site")


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
    items: list[dict[str, object]] = [
        {"kind": "event", "at": e.occurred_at, "event": e}
        for e in AuditEvent.objects.filter(record_type=record_type, record_id=record_id).order_by(
            "seq"
        )
    ]
    for sig in Signature.objects.filter(
        record_type=record_type, record_id=record_id
    ).select_related("signer"):
        items.append({"kind": "signature", "at": sig.signed_at, "signature": manifestation(sig)})
    items.sort(key=lambda item: (item["at"], 0 if item["kind"] == "event" else 1))
    return items
