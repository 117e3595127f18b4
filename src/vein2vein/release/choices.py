"""Kinds of a disposition and which may follow which; the readiness checklist's items."""

from __future__ import annotations

from django.db import models


class Decision(models.TextChoices):
    RELEASE = "release", "Released"
    REJECT = "reject", "Rejected"
    HOLD = "hold", "Quarantine hold"


# The decision each may follow (None: the batch has no disposition yet). A disposition is
# never overwritten: a hold may be followed by release or reject; a release and a reject are
# final.
DECISION_FOLLOWS: dict[str | None, frozenset[str]] = {
    None: frozenset({Decision.RELEASE, Decision.REJECT, Decision.HOLD}),
    Decision.HOLD: frozenset({Decision.RELEASE, Decision.REJECT}),
    Decision.RELEASE: frozenset(),
    Decision.REJECT: frozenset(),
}


class ItemState(models.TextChoices):
    OK = "ok", "Met"
    MISSING = "missing", "Not met"
    NOT_APPLICABLE = "not_applicable", "Not applicable yet"


class Item(models.TextChoices):
    """The readiness checklist, in the order the page shows it."""

    BATCH_RECORD = "batch_record", "Batch record reviewed by exception and signed"
    RELEASE_TESTING = "release_testing", "Every release test resulted, reviewed, within spec"
    DEVIATIONS = "deviations", "No open deviation without a product impact assessment"
    COI = "coi", "Chain of identity verified (COI check)"
    LABELS = "labels", "Labels reconciled"
    STORAGE = "storage", "Storage within range"
