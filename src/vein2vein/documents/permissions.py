"""Who may do what with controlled documents.

Authors (supervisor, QC analyst, QA) write drafts; the review and approval roles come from
`choices.REQUIRED_SIGNATURES`; everyone with a role reads what is effective; drafts and
versions not yet effective are for authors, QA and the inspector. Administrators manage users
and read no GMP content here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from vein2vein.core.choices import Role, SignatureMeaning
from vein2vein.core.permissions import ALL_ROLES, active_roles, has_perm, register_permissions

from .choices import REQUIRED_SIGNATURES, DocumentKind, VersionStatus

if TYPE_CHECKING:
    from vein2vein.core.models import User

    from .models import DocumentVersion


class DocPerm(StrEnum):
    VIEW = "documents.document.view"
    VIEW_UNRELEASED = "documents.version.view_unreleased"
    AUTHOR = "documents.document.author"
    CONTROL = "documents.version.control"
    OBSOLETE = "documents.document.obsolete"
    PERIODIC_REVIEW = "documents.version.periodic_review"


AUTHOR_ROLES = frozenset({Role.SUPERVISOR, Role.QA_REVIEWER, Role.QA_APPROVER, Role.QC_ANALYST})
QA_ROLES = frozenset({Role.QA_REVIEWER, Role.QA_APPROVER})

register_permissions(
    {
        # Everyone with a role reads effective versions; the administrator reads none.
        DocPerm.VIEW: ALL_ROLES - {Role.ADMIN},
        # Drafts, versions in review or approved-not-yet-effective, and retired versions.
        DocPerm.VIEW_UNRELEASED: AUTHOR_ROLES | {Role.INSPECTOR},
        DocPerm.AUTHOR: AUTHOR_ROLES,
        # Document control: make an approved version effective.
        DocPerm.CONTROL: QA_ROLES,
        # Withdrawing a document from use is a QA approver's decision.
        DocPerm.OBSOLETE: frozenset({Role.QA_APPROVER}),
        DocPerm.PERIODIC_REVIEW: frozenset({Role.QA_REVIEWER, Role.QA_APPROVER, Role.SUPERVISOR}),
    }
)

RELEASED = frozenset({VersionStatus.EFFECTIVE})


def signing_roles(kind: str, meaning: SignatureMeaning) -> frozenset[Role]:
    """The roles that may give `meaning` on a document of `kind` (REQUIRED_SIGNATURES)."""
    for required_meaning, roles in REQUIRED_SIGNATURES[DocumentKind(kind)]:
        if required_meaning == meaning:
            return roles
    return frozenset()


def can_read_version(user: User, version: DocumentVersion) -> bool:
    """Effective versions for every role; everything else for authors, QA and the inspector."""
    if version.status in RELEASED:
        return has_perm(user, DocPerm.VIEW)
    return has_perm(user, DocPerm.VIEW_UNRELEASED)


def can_sign_as(user: User, kind: str, meaning: SignatureMeaning) -> bool:
    return bool(active_roles(user) & signing_roles(kind, meaning))
