"""Document services: the only writers of documents, versions and periodic reviews."""

from .documents import create_document, draft_new_document, obsolete_document
from .periodic import record_periodic_review
from .versions import (
    UNSET,
    activate_due_versions,
    approve_version,
    create_version,
    make_effective,
    obsolete_version,
    record_file_integrity_failure,
    return_to_draft,
    review_version,
    submit_for_review,
    update_draft,
)

__all__ = [
    "UNSET",
    "activate_due_versions",
    "approve_version",
    "create_document",
    "create_version",
    "draft_new_document",
    "make_effective",
    "obsolete_document",
    "obsolete_version",
    "record_file_integrity_failure",
    "record_periodic_review",
    "return_to_draft",
    "review_version",
    "submit_for_review",
    "update_draft",
]
