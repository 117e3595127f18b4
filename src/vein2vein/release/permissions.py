"""Who may do what in release. Imported by the services, so the map is complete when used.

Everyone with a role reads readiness; only a QA approver disposes of a batch (release, reject,
quarantine hold), and never one who performed or verified a step of it (the service checks
that). The certificate of analysis is made by QA; clinical site users read the notices of an
exceptional release addressed to their site.
"""

from __future__ import annotations

from enum import StrEnum

from vein2vein.core.choices import Role
from vein2vein.core.permissions import ALL_ROLES, register_permissions


class RelPerm(StrEnum):
    VIEW = "release.view"
    DISPOSE = "release.dispose"
    COA = "release.coa"
    NOTICE_VIEW = "release.notice.view"


DISPOSERS = frozenset({Role.QA_APPROVER})

register_permissions(
    {
        RelPerm.VIEW: ALL_ROLES,
        RelPerm.DISPOSE: DISPOSERS,
        RelPerm.COA: frozenset({Role.QA_REVIEWER, Role.QA_APPROVER}),
        RelPerm.NOTICE_VIEW: ALL_ROLES,
    }
)
