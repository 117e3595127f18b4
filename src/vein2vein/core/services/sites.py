"""Site management: the service pattern every domain app copies.

Each service: keyword-only, takes `actor`, checks permission, validates, writes inside
one transaction with the row locked, and appends the audit event in that same transaction.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction

from vein2vein.standards.isbt128 import fin_problem

from .. import audit
from ..choices import Role, SiteKind
from ..errors import Conflict, NotFound, ValidationFailed
from ..models import RoleAssignment, Site, User
from ..permissions import Perm, require
from ..time import is_valid_zone
from . import _validate

_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")
EDITABLE_FIELDS = ("name", "kind", "time_zone", "fin", "country", "address")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """Validate site fields present in `data`; raise naming the first bad field."""
    out: dict[str, Any] = {}
    if "code" in data:
        code = _validate.text(data["code"], "code", max_length=20).upper()
        if not _CODE_RE.match(code):
            raise ValidationFailed(
                "code must be 2-20 characters: capital letters, digits and '-'", field="code"
            )
        out["code"] = code
    if "name" in data:
        out["name"] = _validate.text(data["name"], "name", max_length=200)
    if "kind" in data:
        if data["kind"] not in SiteKind.values:
            raise ValidationFailed(
                f"kind must be one of: {', '.join(SiteKind.values)}", field="kind"
            )
        out["kind"] = str(data["kind"])
    if "time_zone" in data:
        zone = _validate.text(data["time_zone"], "time_zone", max_length=64)
        if not is_valid_zone(zone):
            raise ValidationFailed(
                f"time_zone '{zone}' is not an IANA time zone (e.g. Europe/Madrid)",
                field="time_zone",
            )
        out["time_zone"] = zone
    if "fin" in data:
        fin = _validate.text(data["fin"], "fin", max_length=5, required=False).upper()
        if fin and (problem := fin_problem(fin)):
            raise ValidationFailed(f"fin {problem}", field="fin")
        out["fin"] = fin
    if "country" in data:
        country = _validate.text(data["country"], "country", max_length=2, required=False)
        if country and not _COUNTRY_RE.match(country.upper()):
            raise ValidationFailed(
                "country must be an ISO 3166-1 alpha-2 code such as ES or US", field="country"
            )
        out["country"] = country.upper()
    if "address" in data:
        out["address"] = _validate.text(data["address"], "address", max_length=1000, required=False)
    return out


def _check_unique(
    *, code: str | None = None, fin: str | None = None, exclude: int | None = None
) -> None:
    qs = Site.objects.exclude(pk=exclude) if exclude else Site.objects.all()
    if code and qs.filter(code=code).exists():
        raise ValidationFailed(f"code {code} is already used by another site", field="code")
    if fin and qs.filter(fin=fin).exists():
        raise ValidationFailed(f"fin {fin} is already used by another site", field="fin")


def create_site(
    *,
    actor: User,
    code: str,
    name: str,
    kind: str,
    time_zone: str,
    fin: str = "",
    address: str = "",
    country: str = "",
) -> Site:
    require(actor, Perm.SITE_MANAGE)
    values = _clean(
        {
            "code": code,
            "name": name,
            "kind": kind,
            "time_zone": time_zone,
            "fin": fin,
            "country": country,
            "address": address,
        }
    )
    with transaction.atomic():
        _check_unique(code=values["code"], fin=values["fin"])
        try:
            with transaction.atomic():  # a concurrent create of the same code or FIN
                site = Site.objects.create(**values)
        except IntegrityError as exc:
            raise Conflict("another site with this code or FIN was just created") from exc
        audit.append_event(
            actor=actor,
            action="site.created",
            record=site,
            changes=audit.created(audit.snapshot(site, Site.RECORD_FIELDS)),
        )
    return site


def _locked(site_id: int) -> Site:
    site = Site.objects.select_for_update(no_key=True, of=("self",)).filter(pk=site_id).first()
    if site is None:
        raise NotFound(f"site {site_id} does not exist", field="site_id")
    return site


def update_site(*, actor: User, site_id: int, reason: str, **fields: Any) -> Site:
    """Correct a site's details; the old values and the reason stay in the audit trail."""
    require(actor, Perm.SITE_MANAGE)
    _validate.only_editable(fields, EDITABLE_FIELDS)
    values = _clean(fields)
    why = _validate.reason(reason)
    with transaction.atomic():
        site = _locked(site_id)
        _check_unique(fin=values.get("fin"), exclude=site.pk)
        before = audit.snapshot(site, Site.RECORD_FIELDS)
        for key, value in values.items():
            setattr(site, key, value)
        changes = audit.diff(before, audit.snapshot(site, Site.RECORD_FIELDS))
        if not changes:
            raise ValidationFailed("nothing to change: every value is as it was", field=None)
        site.save(update_fields=[*changes, "updated_at"])
        audit.append_event(
            actor=actor, action="site.updated", record=site, changes=changes, reason=why
        )
    return site


def _set_active(*, actor: User, site_id: int, reason: str, active: bool) -> Site:
    require(actor, Perm.SITE_MANAGE)
    why = _validate.reason(reason)
    with transaction.atomic():
        site = _locked(site_id)
        if site.is_active == active:
            raise Conflict(f"site {site.code} is already {'active' if active else 'inactive'}")
        if not active and not _admins_elsewhere(site):
            raise Conflict(
                f"deactivating {site.code} would leave no active administrator; "
                "grant the admin role at another site first"
            )
        site.is_active = active
        site.save(update_fields=["is_active", "updated_at"])
        audit.append_event(
            actor=actor,
            action="site.reactivated" if active else "site.deactivated",
            record=site,
            changes={"is_active": {"old": not active, "new": active}},
            reason=why,
        )
    return site


def _admins_elsewhere(site: Site) -> bool:
    return (
        RoleAssignment.objects.filter(
            role=Role.ADMIN, revoked_at__isnull=True, site__is_active=True, user__is_active=True
        )
        .exclude(site=site)
        .exists()
    )


def deactivate_site(*, actor: User, site_id: int, reason: str) -> Site:
    """Sites are deactivated, never deleted: their records keep pointing at them."""
    return _set_active(actor=actor, site_id=site_id, reason=reason, active=False)


def reactivate_site(*, actor: User, site_id: int, reason: str) -> Site:
    return _set_active(actor=actor, site_id=site_id, reason=reason, active=True)
