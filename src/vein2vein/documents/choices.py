"""Document kinds and the version lifecycle, with the allowed transitions next to them."""

from __future__ import annotations

from django.db import models

from vein2vein.core.choices import Role, SignatureMeaning


class DocumentKind(models.TextChoices):
    SOP = "sop", "Standard operating procedure"
    WORK_INSTRUCTION = "work_instruction", "Work instruction"
    FORM = "form", "Form"
    SPECIFICATION = "specification", "Specification"
    MASTER_BATCH_RECORD = "master_batch_record", "Master batch record"


# Number prefix per kind: SOP-0042, WI-0007, FRM-0003, SPEC-0012, MBR-0001.
NUMBER_PREFIX = {
    DocumentKind.SOP: "SOP",
    DocumentKind.WORK_INSTRUCTION: "WI",
    DocumentKind.FORM: "FRM",
    DocumentKind.SPECIFICATION: "SPEC",
    DocumentKind.MASTER_BATCH_RECORD: "MBR",
}


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    EFFECTIVE = "effective", "Effective"
    SUPERSEDED = "superseded", "Superseded"
    OBSOLETE = "obsolete", "Obsolete"


TRANSITIONS: dict[VersionStatus, frozenset[VersionStatus]] = {
    VersionStatus.DRAFT: frozenset({VersionStatus.IN_REVIEW, VersionStatus.OBSOLETE}),
    VersionStatus.IN_REVIEW: frozenset({VersionStatus.APPROVED, VersionStatus.DRAFT}),
    VersionStatus.APPROVED: frozenset({VersionStatus.EFFECTIVE, VersionStatus.OBSOLETE}),
    VersionStatus.EFFECTIVE: frozenset({VersionStatus.SUPERSEDED, VersionStatus.OBSOLETE}),
    VersionStatus.SUPERSEDED: frozenset(),
    VersionStatus.OBSOLETE: frozenset(),
}

# Signatures a version needs before it is approved: (meaning, roles that may give it).
# Review by QA; approval by a QA approver. Configurable per kind.
REQUIRED_SIGNATURES: dict[DocumentKind, tuple[tuple[SignatureMeaning, frozenset[Role]], ...]] = {
    kind: (
        (
            SignatureMeaning.REVIEWED,
            frozenset({Role.QA_REVIEWER, Role.QA_APPROVER, Role.SUPERVISOR}),
        ),
        (SignatureMeaning.APPROVED, frozenset({Role.QA_APPROVER})),
    )
    for kind in DocumentKind
}

DEFAULT_REVIEW_PERIOD_MONTHS = 24
