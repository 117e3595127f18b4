"""The first site and the first administrator of an installation, from the server console."""

from __future__ import annotations

from django.db import transaction

from .. import audit
from ..choices import Role
from ..errors import Conflict
from ..models import RoleAssignment, Site, User
from . import sites as site_services
from . import users as user_services


def bootstrap_installation(
    *,
    site_code: str,
    site_name: str,
    site_kind: str,
    time_zone: str,
    username: str,
    full_name: str,
    password: str,
    fin: str = "",
    address: str = "",
    must_change_password: bool = True,
) -> tuple[Site, User]:
    """Only on an installation with no administrator yet; recorded with the 'system' actor."""
    values = site_services._clean(
        {
            "code": site_code,
            "name": site_name,
            "kind": site_kind,
            "time_zone": time_zone,
            "fin": fin,
            "address": address,
        }
    )
    with transaction.atomic():
        if RoleAssignment.objects.filter(role=Role.ADMIN, revoked_at__isnull=True).exists():
            raise Conflict("an administrator already exists; ask them to create sites and users")
        site = Site.objects.filter(code=values["code"]).first()
        if site is None:
            site_services._check_unique(code=values["code"], fin=values["fin"])
            site = Site.objects.create(**values)
            audit.append_event(
                actor=None,
                action="site.created",
                record=site,
                changes=audit.created(audit.snapshot(site, Site.RECORD_FIELDS)),
                reason="bootstrap: first site of the installation",
            )
        admin = user_services.bootstrap_admin(
            username=username,
            full_name=full_name,
            password=password,
            site=site,
            must_change_password=must_change_password,
        )
    return site, admin
