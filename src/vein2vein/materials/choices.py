"""Kinds and statuses of materials records, with the allowed lot transitions next to them."""

from __future__ import annotations

from django.db import models


class MaterialKind(models.TextChoices):
    REAGENT = "reagent", "Reagent"
    MEDIUM = "medium", "Medium"
    CYTOKINE = "cytokine", "Cytokine"
    VIRAL_VECTOR = "viral_vector", "Viral vector"
    DISPOSABLE = "disposable", "Tubing set or disposable"
    BAG = "bag", "Bag"
    CRYOPROTECTANT = "cryoprotectant", "Cryoprotectant"
    KIT = "kit", "Kit"


class StorageCondition(models.TextChoices):
    REFRIGERATED = "2_8c", "2-8 °C"
    FROZEN = "minus_20c", "-20 °C"
    ULTRA_LOW = "minus_65c", "≤ -65 °C"
    LN2_VAPOUR = "ln2_vapour", "LN2 vapour"
    ROOM = "15_25c", "15-25 °C"


class SupplierStatus(models.TextChoices):
    APPROVED = "approved", "Approved"
    CONDITIONAL = "conditional", "Conditional"
    DISQUALIFIED = "disqualified", "Disqualified"


class LotStatus(models.TextChoices):
    QUARANTINE = "quarantine", "Quarantine"
    RELEASED = "released", "Released"
    ON_HOLD = "on_hold", "On hold"
    REJECTED = "rejected", "Rejected"


# Which status each action may start from. Rejected is final.
RELEASE_FROM = frozenset({LotStatus.QUARANTINE})
REJECT_FROM = frozenset({LotStatus.QUARANTINE, LotStatus.RELEASED, LotStatus.ON_HOLD})
HOLD_FROM = frozenset({LotStatus.QUARANTINE, LotStatus.RELEASED})
IMPORT_STATUSES = frozenset({LotStatus.QUARANTINE, LotStatus.ON_HOLD})


class TransactionKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    CONSUMPTION = "consumption", "Consumption"
    ADJUSTMENT = "adjustment", "Adjustment"
    KIT_ASSEMBLY = "kit_assembly", "Used in a kit"


# The receiving inspection checklist: field name -> question as read at goods-in.
INSPECTION_ITEMS: tuple[tuple[str, str], ...] = (
    ("packaging_intact", "Packaging intact"),
    ("labels_match", "Labels match the order and the CoA"),
    ("temperature_ok", "Temperature on arrival OK"),
    ("coa_matches", "CoA matches the lot (number, expiry, specification)"),
)

# The reasons `check_material_usable` gives, in the order they are checked.
REASON_QUARANTINE = "quarantine"
REASON_REJECTED = "rejected"
REASON_ON_HOLD = "on_hold"
REASON_EXPIRED = "expired"
REASON_WRONG_PART = "wrong_part"
REASON_QUANTITY = "insufficient_quantity"
