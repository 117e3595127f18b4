"""Kinds and statuses of core records."""

from django.db import models


class SiteKind(models.TextChoices):
    MANUFACTURING = "manufacturing", "Manufacturing facility"
    CLINICAL = "clinical", "Clinical site"
    APHERESIS = "apheresis", "Apheresis center"
    QC_LAB = "qc_lab", "QC laboratory"
    DEPOT = "depot", "Depot"


class Role(models.TextChoices):
    OPERATOR = "operator", "Operator"
    VERIFIER = "verifier", "Verifier"
    SUPERVISOR = "supervisor", "Supervisor"
    QC_ANALYST = "qc_analyst", "QC analyst"
    QA_REVIEWER = "qa_reviewer", "QA reviewer"
    QA_APPROVER = "qa_approver", "QA approver"
    LOGISTICS = "logistics", "Logistics coordinator"
    CLINICAL_SITE = "clinical_site", "Clinical site"
    INSPECTOR = "inspector", "Inspector (read-only)"
    ADMIN = "admin", "Administrator"


class SignatureMeaning(models.TextChoices):
    PERFORMED = "performed", "Performed"
    VERIFIED = "verified", "Verified"
    REVIEWED = "reviewed", "Reviewed"
    APPROVED = "approved", "Approved"
    RELEASED = "released", "Released"
    REJECTED = "rejected", "Rejected"
    # A QA approver releasing an out-of-specification autologous product on the treating
    # physician's documented request: never the ordinary "released" (release app).
    EXCEPTIONAL_RELEASE = "exceptional_release", "Released exceptionally (out of specification)"


# Meanings that need a second person: never the one who performed the work.
SECOND_PERSON_MEANINGS = frozenset(
    {
        SignatureMeaning.VERIFIED,
        SignatureMeaning.REVIEWED,
        SignatureMeaning.APPROVED,
        SignatureMeaning.RELEASED,
        SignatureMeaning.REJECTED,
        SignatureMeaning.EXCEPTIONAL_RELEASE,
    }
)
