"""Chain-of-identity tables: products as ordered, patients, orders with their COI identifier,
manufacturing slots, apheresis collections, receipts and the append-only custody events.

Nothing here is deleted: orders are cancelled, bookings released, patients corrected with a
reason. Custody events are only ever added, numbered per order (`seq`), so the vein-to-vein
page reads one index range in order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from vein2vein.core.choices import Role
from vein2vein.core.models import Site
from vein2vein.core.signing import signable
from vein2vein.standards import iso7064

from .choices import (
    Anticoagulant,
    BookingStatus,
    ConsentStatus,
    CustodyKind,
    OrderStatus,
    ReceiptDecision,
)


class TherapyProduct(models.Model):
    """A product as a clinician orders it; its fresh-material limits drive the stability clock."""

    code = models.CharField(max_length=30, unique=True, help_text="e.g. CD19-CART")
    name = models.CharField(max_length=200)
    isbt_description_code = models.CharField(
        "ISBT 128 product description code",
        max_length=5,
        blank=True,
        help_text="Product description code (5 characters) of the starting material, e.g. S1234",
    )
    autologous = models.BooleanField(default=True)
    max_hours_to_manufacture = models.PositiveIntegerField(
        help_text="Hours from end of collection to start of manufacturing (fresh material)"
    )
    fresh_min_c = models.DecimalField(max_digits=5, decimal_places=1)
    fresh_max_c = models.DecimalField(max_digits=5, decimal_places=1)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    RECORD_FIELDS = (
        "code",
        "name",
        "isbt_description_code",
        "autologous",
        "max_hours_to_manufacture",
        "fresh_min_c",
        "fresh_max_c",
        "is_active",
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fresh_min_c__lt=models.F("fresh_max_c")),
                name="chain_product_fresh_range",
            ),
            models.CheckConstraint(
                condition=Q(max_hours_to_manufacture__gt=0), name="chain_product_hours_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Patient(models.Model):
    """A patient enrolled by a clinical site. Name and date of birth are personal data: only
    the clinical roles see them; everybody else works with the order's COI identifier."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    site_patient_id = models.CharField(max_length=40)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1)
    diagnosis = models.CharField(max_length=300)
    consent_status = models.CharField(max_length=20, choices=ConsentStatus.choices)
    consent_date = models.DateField(null=True, blank=True)
    enrolled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    enrolled_at = models.DateTimeField()

    RECORD_FIELDS = (
        "site",
        "site_patient_id",
        "given_name",
        "family_name",
        "date_of_birth",
        "weight_kg",
        "diagnosis",
        "consent_status",
        "consent_date",
    )

    class Meta:
        ordering = ["site_id", "site_patient_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "site_patient_id"], name="chain_patient_site_id_unique"
            ),
            models.CheckConstraint(
                condition=Q(consent_status__in=ConsentStatus.values),
                name="chain_patient_consent_valid",
            ),
            models.CheckConstraint(condition=Q(weight_kg__gt=0), name="chain_patient_weight"),
        ]

    def __str__(self) -> str:
        return f"{self.site.code} patient {self.site_patient_id}"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


@signable(
    meanings=("reviewed", "approved"),
    general=("reviewed", "approved"),
    site=lambda o: o.manufacturing_site,
    performer=lambda o: o.ordered_by,
)
class TherapyOrder(models.Model):
    """One patient's therapy, vein to vein. Its COI identifier (ISBT 128 DS 040 content) is
    printed on every label and scanned at every handoff."""

    coi = models.CharField("COI identifier", max_length=15, unique=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="orders")
    product = models.ForeignKey(TherapyProduct, on_delete=models.PROTECT, related_name="+")
    treating_physician = models.CharField(max_length=150)
    requested_collection_date = models.DateField()
    ordering_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    collection_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    manufacturing_site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=OrderStatus.choices)
    ordered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    ordered_at = models.DateTimeField()
    cancel_reason = models.TextField(blank=True)
    # Where the material is now: the `to` side of the latest custody event.
    current_custodian = models.CharField(max_length=200, blank=True)
    current_location = models.CharField(max_length=200, blank=True)
    last_event_seq = models.PositiveIntegerField(default=0)
    # The stability clock: set at collection, stopped when manufacturing starts.
    stability_deadline = models.DateTimeField(null=True, blank=True)
    manufacturing_started_at = models.DateTimeField(null=True, blank=True)
    stability_deviation = models.CharField(max_length=30, blank=True)

    RECORD_FIELDS = (
        "coi",
        "patient",
        "product",
        "treating_physician",
        "requested_collection_date",
        "ordering_site",
        "collection_site",
        "manufacturing_site",
        "status",
    )

    class Meta:
        ordering = ["-ordered_at"]
        indexes = [models.Index(fields=["status", "stability_deadline"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="chain_order_status_valid"
            )
        ]

    def __str__(self) -> str:
        return self.coi

    @property
    def coi_check_character(self) -> str:
        return iso7064.mod37_2(self.coi[2:])

    @property
    def coi_eye_readable(self) -> str:
        c = self.coi
        return f"{c[:2]} {c[2:7]} {c[7:9]} {c[9:]}"

    def signed_content(self) -> dict[str, Any]:
        """What a signature on the order attests: whose therapy, which product, where. Not
        its status, which moves on with every handoff."""
        return {
            "coi": self.coi,
            "patient": self.patient_id,
            "product": self.product.code,
            "treating_physician": self.treating_physician,
            "requested_collection_date": self.requested_collection_date,
            "ordering_site": self.ordering_site_id,
            "collection_site": self.collection_site_id,
            "manufacturing_site": self.manufacturing_site_id,
        }


class SlotCapacity(models.Model):
    """How many collections a manufacturing facility can take in on a day (0 = closed)."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    capacity = models.PositiveIntegerField()
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    set_at = models.DateTimeField()

    class Meta:
        ordering = ["site_id", "day"]
        constraints = [
            models.UniqueConstraint(fields=["site", "day"], name="chain_capacity_site_day")
        ]

    def __str__(self) -> str:
        return f"{self.site.code} {self.day}: {self.capacity}"


class SlotBooking(models.Model):
    """A manufacturing slot reserved for an order's collection day. Released, never deleted."""

    order = models.ForeignKey(TherapyOrder, on_delete=models.PROTECT, related_name="bookings")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    status = models.CharField(max_length=20, choices=BookingStatus.choices)
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    booked_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)

    RECORD_FIELDS = ("order", "site", "day", "status", "release_reason")

    class Meta:
        ordering = ["day", "booked_at"]
        indexes = [models.Index(fields=["site", "day", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status="booked"),
                name="chain_one_active_booking_per_order",
            )
        ]

    def __str__(self) -> str:
        return f"{self.order.coi} {self.site.code} {self.day} ({self.status})"


class Collection(models.Model):
    """The apheresis collection: times with their zone, volume, counts, DIN (and SEC)."""

    order = models.OneToOneField(TherapyOrder, on_delete=models.PROTECT, related_name="collection")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    din = models.CharField("DIN", max_length=13, unique=True)
    sec = models.CharField("SEC", max_length=40, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, help_text="The zone the times were entered in")
    volume_ml = models.DecimalField(max_digits=7, decimal_places=1)
    anticoagulant = models.CharField(max_length=20, choices=Anticoagulant.choices)
    wbc_10e9_per_l = models.DecimalField(
        "WBC (10⁹/L)", max_digits=7, decimal_places=2, null=True, blank=True
    )
    cd3_10e9_per_l = models.DecimalField(
        "CD3+ (10⁹/L)", max_digits=7, decimal_places=2, null=True, blank=True
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField()

    RECORD_FIELDS = (
        "din",
        "sec",
        "started_at",
        "ended_at",
        "time_zone",
        "volume_ml",
        "anticoagulant",
        "wbc_10e9_per_l",
        "cd3_10e9_per_l",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__gt=models.F("started_at")),
                name="chain_collection_end_after_start",
            ),
            models.CheckConstraint(condition=Q(volume_ml__gt=0), name="chain_collection_volume"),
        ]

    def __str__(self) -> str:
        return f"{self.order.coi} DIN {self.din}"

    @property
    def din_check_character(self) -> str:
        return iso7064.mod37_2(self.din)

    @property
    def din_eye_readable(self) -> str:
        return f"{self.din[:5]} {self.din[5:7]} {self.din[7:]}"

    @property
    def duration(self) -> dt.timedelta:
        return self.ended_at - self.started_at


@signable(
    meanings=("approved", "rejected"),
    site=lambda r: r.site,
    performer=lambda r: r.received_by,
)
class Receipt(models.Model):
    """The apheresis bag arriving at manufacturing: what was scanned, how it matched, the
    arrival temperature and the shipper's data-logger summary, accepted or rejected. A bag
    outside the product's temperature range is quarantined until QA dispositions it."""

    order = models.OneToOneField(TherapyOrder, on_delete=models.PROTECT, related_name="receipt")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    received_at = models.DateTimeField()
    scans = models.JSONField(default=list, help_text="The scanned texts, as typed")
    matched = models.JSONField(default=list, help_text="What each scan matched")
    arrival_temperature_c = models.DecimalField(max_digits=5, decimal_places=1)
    logger_serial = models.CharField(max_length=60, blank=True)
    logger_min_c = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    logger_max_c = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    logger_summary = models.TextField(blank=True)
    temperature_ok = models.BooleanField()
    decision = models.CharField(max_length=10, choices=ReceiptDecision.choices)
    rejection_reason = models.TextField(blank=True)
    deviations = models.JSONField(default=list, help_text="Numbers of deviations raised")
    disposition_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="QA who dispositioned a quarantined receipt",
    )
    disposition_at = models.DateTimeField(null=True, blank=True)
    disposition_reason = models.TextField(blank=True)

    RECORD_FIELDS = (
        "site",
        "scans",
        "matched",
        "arrival_temperature_c",
        "logger_serial",
        "logger_min_c",
        "logger_max_c",
        "logger_summary",
        "temperature_ok",
        "decision",
        "rejection_reason",
        "deviations",
        "disposition_by",
        "disposition_at",
        "disposition_reason",
    )
    # A quarantined receipt is released or rejected by QA only (not a supervisor's approval).
    SIGNING_ROLES: dict[str, frozenset[str]] = {
        "approved": frozenset({Role.QA_APPROVER}),
        "rejected": frozenset({Role.QA_APPROVER}),
    }

    def __str__(self) -> str:
        return f"{self.order.coi} receipt ({self.decision})"

    @property
    def quarantined(self) -> bool:
        return self.decision == ReceiptDecision.QUARANTINE

    def signed_content(self) -> dict[str, Any]:
        """What QA's disposition attests: the bag as measured and the decision taken."""
        return {
            "order": self.order_id,
            "arrival_temperature_c": self.arrival_temperature_c,
            "logger_serial": self.logger_serial,
            "logger_min_c": self.logger_min_c,
            "logger_max_c": self.logger_max_c,
            "temperature_ok": self.temperature_ok,
            "deviations": self.deviations,
            "decision": self.decision,
            "disposition_reason": self.disposition_reason,
        }


class CustodyEvent(models.Model):
    """One handoff (or stage change) of a patient's material. Append-only: never changed."""

    order = models.ForeignKey(TherapyOrder, on_delete=models.PROTECT, related_name="custody")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=CustodyKind.choices)
    item = models.CharField(max_length=200, help_text="What changed hands, e.g. apheresis bag")
    from_custodian = models.CharField(max_length=200, blank=True)
    from_location = models.CharField(max_length=200, blank=True)
    to_custodian = models.CharField(max_length=200)
    to_location = models.CharField(max_length=200)
    occurred_at = models.DateTimeField(help_text="When it happened (UTC)")
    recorded_at = models.DateTimeField(help_text="When it was recorded (server, UTC)")
    temperature_c = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    scanned_text = models.CharField(max_length=300, blank=True)
    matched = models.CharField(
        max_length=200, blank=True, help_text="What the scan matched, e.g. 'DIN and check'"
    )
    status_after = models.CharField(max_length=20, choices=OrderStatus.choices)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")

    RECORD_FIELDS = (
        "order",
        "seq",
        "kind",
        "item",
        "from_custodian",
        "from_location",
        "to_custodian",
        "to_location",
        "occurred_at",
        "temperature_c",
        "scanned_text",
        "matched",
        "status_after",
        "note",
        "site",
    )

    class Meta:
        ordering = ["order_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["order", "seq"], name="chain_custody_order_seq")
        ]

    def __str__(self) -> str:
        return f"{self.order.coi} #{self.seq} {self.kind}"
