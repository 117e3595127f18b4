"""Demo documents for the CAR-T process, made through the services (real audit trail and
signatures). Idempotent: each run finishes whatever an earlier run left half done.

Authors are the supervisor (manufacturing) and the QC analyst; Rita Reyes (qa) reviews and
Amara Appiah (qa_approver) approves, so every effective version carries both signatures.
SOP-0004 also has a version 2 in review, waiting for QA.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.core.files import File

from vein2vein.core.demo import DEMO_PASSWORD, demo_user

from . import selectors, services
from .choices import DocumentKind, VersionStatus
from .models import Document, DocumentVersion
from .pdf import minimal_pdf


@dataclass(frozen=True)
class DemoDocument:
    number: str
    kind: DocumentKind
    title: str
    author: str
    owner: str
    body: tuple[str, ...]


DOCUMENTS = (
    DemoDocument(
        "SOP-0001",
        DocumentKind.SOP,
        "Aseptic gowning and cleanroom entry",
        "supervisor",
        "supervisor",
        (
            "Purpose: keep grade B/A areas free of operator-borne contamination.",
            "1. Remove jewellery and outer garments in the grey zone; wash hands 30 s.",
            "2. Don hood, coverall, boots and sterile gloves in the order posted.",
            "3. Check the gown in the mirror; sanitise gloves with 70% IPA.",
            "4. Contact plates on gloves and gown at exit; record on FRM-0001.",
        ),
    ),
    DemoDocument(
        "SOP-0002",
        DocumentKind.SOP,
        "Receipt and accessioning of apheresis material",
        "supervisor",
        "supervisor",
        (
            "Purpose: receive leukapheresis shipments with chain of identity intact.",
            "1. Check the shipper temperature log and seal before opening.",
            "2. Verify COI on bag, paperwork and order (two persons).",
            "3. Record arrival time; the product must be processed within 48 h of collection.",
        ),
    ),
    DemoDocument(
        "SOP-0003",
        DocumentKind.SOP,
        "CD4/CD8 selection on the closed-system processor",
        "supervisor",
        "supervisor",
        (
            "Purpose: enrich T cells by CD4/CD8 immunomagnetic selection in a closed system.",
            "1. Install the tubing set; run the integrity test.",
            "2. Label with the reagent lot; the reagent must be released and in date.",
            "3. Record target and non-target fractions and cell counts.",
        ),
    ),
    DemoDocument(
        "SOP-0004",
        DocumentKind.SOP,
        "T-cell activation and lentiviral transduction",
        "supervisor",
        "supervisor",
        (
            "Purpose: activate selected T cells and transduce them with the CAR vector.",
            "1. Activate with the released activation reagent at 1:100 on day 0.",
            "2. Transduce on day 1 at MOI 2 with the released vector lot.",
            "3. Record vector lot, volume and MOI; second-person verification required.",
        ),
    ),
    DemoDocument(
        "SOP-0005",
        DocumentKind.SOP,
        "Cell expansion, harvest and formulation",
        "supervisor",
        "supervisor",
        (
            "Purpose: expand transduced cells to dose and formulate the drug product.",
            "1. Feed per the expansion schedule; count cells on days 5, 7 and 9.",
            "2. Harvest when the dose is reached; wash and formulate in cryomedium.",
            "3. Take release samples before filling the bags.",
        ),
    ),
    DemoDocument(
        "SOP-0006",
        DocumentKind.SOP,
        "Controlled-rate freezing and LN2 storage",
        "supervisor",
        "supervisor",
        (
            "Purpose: cryopreserve the drug product and store it in vapour-phase LN2.",
            "1. Start the controlled-rate freezer program within 60 min of formulation.",
            "2. Review the freeze curve; transfer to the assigned LN2 position.",
            "3. Record position and transfer time; storage at or below -150 C.",
        ),
    ),
    DemoDocument(
        "SOP-0007",
        DocumentKind.SOP,
        "Deviation and CAPA management",
        "supervisor",
        "qa",
        (
            "Purpose: record, investigate and close deviations; manage CAPA.",
            "1. Raise a deviation as soon as an event is found; take immediate actions.",
            "2. Classify minor, major or critical; assess product and patient impact.",
            "3. Investigate the root cause; QA approver closes with an e-signature.",
        ),
    ),
    DemoDocument(
        "WI-0001",
        DocumentKind.WORK_INSTRUCTION,
        "Viable cell count on the NucleoCounter NC-200",
        "qc",
        "qc",
        (
            "Purpose: count viable nucleated cells with the NC-200 (Via1-Cassette).",
            "1. Mix the sample gently; load the Via1-Cassette.",
            "2. Run the 'Viability and cell count' assay; triplicate counts.",
            "3. Accept if CV <= 10%; export the result file to the QC record.",
        ),
    ),
    DemoDocument(
        "FRM-0001",
        DocumentKind.FORM,
        "Batch record review checklist",
        "supervisor",
        "qa",
        (
            "[ ] Every step signed and verified; no blank fields.",
            "[ ] Deviations raised, assessed and linked.",
            "[ ] Materials released and in date; equipment in calibration.",
            "[ ] Labels reconciled; chain of identity complete.",
        ),
    ),
)

SOP_0004_V2_SUMMARY = (
    "Transduction at MOI 3 instead of 2 (vector potency re-assay); adds a day-2 viability check."
)


def _pdf(spec: DemoDocument, version: int, extra: tuple[str, ...] = ()) -> File:  # type: ignore[type-arg]
    content = minimal_pdf(
        f"{spec.number} {spec.title}",
        (f"Version {version}", "", *spec.body, *extra),
    )
    return File(io.BytesIO(content), name=f"{spec.number}_v{version}.pdf")


def _advance(version: DocumentVersion) -> None:
    """Take a version from wherever it is to effective: submit, review, approve, activate."""
    author = version.created_by
    qa, approver = demo_user("qa"), demo_user("qa_approver")
    if version.status == VersionStatus.DRAFT:
        services.submit_for_review(actor=author, version_id=version.pk)
        version.refresh_from_db()
    if version.status == VersionStatus.IN_REVIEW and not selectors.current_reviews(version):
        services.review_version(
            actor=qa, version_id=version.pk, password=DEMO_PASSWORD, reason="Content reviewed"
        )
    if version.status == VersionStatus.IN_REVIEW:
        services.approve_version(
            actor=approver, version_id=version.pk, password=DEMO_PASSWORD, reason="Approved"
        )
        version.refresh_from_db()
    if version.status == VersionStatus.APPROVED:
        services.make_effective(actor=approver, version_id=version.pk)


def _ensure_effective(spec: DemoDocument) -> Document:
    author = demo_user(spec.author)
    document = selectors.get_document(spec.number)
    if document is None:
        document = services.create_document(
            actor=author,
            kind=spec.kind,
            title=spec.title,
            owner=demo_user(spec.owner),
            number=spec.number,
        )
    if selectors.effective_version(document) is not None:
        return document
    version = document.versions.filter(status__in=selectors.IN_FLIGHT).first()
    if version is None:
        version = services.create_version(
            actor=author,
            document=document,
            change_summary="Initial issue",
            file=_pdf(spec, 1),
        )
    _advance(version)
    return document


def load_demo() -> None:
    for spec in DOCUMENTS:
        _ensure_effective(spec)
    # SOP-0004 version 2, submitted and waiting for QA's review.
    spec = next(s for s in DOCUMENTS if s.number == "SOP-0004")
    document = selectors.get_document(spec.number)
    assert document is not None
    if not document.versions.filter(version__gte=2).exists():
        author = demo_user(spec.author)
        version = services.create_version(
            actor=author,
            document=document,
            change_summary=SOP_0004_V2_SUMMARY,
            file=_pdf(spec, 2, ("", "Change: transduction at MOI 3; day-2 viability check.")),
        )
        services.submit_for_review(actor=author, version_id=version.pk)
