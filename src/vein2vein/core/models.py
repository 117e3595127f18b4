"""Core tables: sites, users and their roles, the audit trail, e-signatures, API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from .choices import Role, SignatureMeaning, SiteKind


class Site(models.Model):
    """A place where the work happens; its time zone is how its people read every time."""

    code = models.CharField(max_length=20, unique=True, help_text="Short code, e.g. MFG-BCN")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=SiteKind.choices)
    time_zone = models.CharField(max_length=64, help_text="IANA zone, e.g. Europe/Madrid")
    fin = models.CharField(
        "ISBT 128 FIN",
        max_length=5,
        blank=True,
        help_text="ISBT 128 Facility Identification Number (5 characters)",
    )
    country = models.CharField(
        max_length=2,
        blank=True,
        help_text="ISO 3166-1 alpha-2 country; an EU/EEA site's collections carry a SEC",
    )
    address = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Fields that make up the site's record: what is audited and what a signature covers.
    RECORD_FIELDS = (
        "code",
        "name",
        "kind",
        "time_zone",
        "fin",
        "country",
        "address",
        "is_active",
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["fin"], condition=~Q(fin=""), name="site_fin_unique"),
            models.CheckConstraint(condition=Q(kind__in=SiteKind.values), name="site_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def signed_content(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.RECORD_FIELDS}


class User(AbstractUser):
    """A person. `full_name` is the printed name on every signature manifestation."""

    full_name = models.CharField(max_length=150)
    must_change_password = models.BooleanField(default=False)

    RECORD_FIELDS = ("username", "full_name", "email", "is_active")

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def printed_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username


class RoleAssignment(models.Model):
    """A role held by a user at a site. Revoked, never deleted."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="role_assignments")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="role_assignments")
    role = models.CharField(max_length=20, choices=Role.choices)
    granted_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    granted_at = models.DateTimeField()
    revoked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["site__code", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "site", "role"],
                condition=Q(revoked_at__isnull=True),
                name="one_active_role_per_user_site",
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} @ {self.site.code}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEvent(models.Model):
    """One append-only, hash-chained audit event (DESIGN.md data integrity rule 1).

    Written only by core.audit.append_event; on PostgreSQL a trigger refuses UPDATE and DELETE.
    """

    seq = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_username = models.CharField(max_length=150)
    action = models.CharField(max_length=100, db_index=True)
    record_type = models.CharField(max_length=100)
    record_id = models.CharField(max_length=64)
    changes = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, db_index=True)
    seal = models.CharField(
        max_length=64,
        blank=True,
        db_default="",
        help_text="HMAC of the hash with the key kept outside the database (ADR 0002)",
    )

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["record_type", "record_id"], name="audit_record_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.record_type}:{self.record_id}"

    def hashed_content(self) -> dict[str, Any]:
        from .audit import hashed_content

        return hashed_content(self)


class Signature(models.Model):
    """An electronic signature (21 CFR 11.50/11.70): who, when, what it means, bound to what."""

    signer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="signatures")
    signer_name = models.CharField(max_length=150, help_text="Printed name at the time of signing")
    meaning = models.CharField(max_length=20, choices=SignatureMeaning.choices)
    record_type = models.CharField(max_length=100)
    record_id = models.CharField(max_length=64)
    content_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    time_zone = models.CharField(max_length=64, help_text="Zone of the signer's site")
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["signed_at", "pk"]
        indexes = [models.Index(fields=["record_type", "record_id"], name="signature_record_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(meaning__in=SignatureMeaning.values), name="signature_meaning_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.signer_name} {self.meaning} {self.record_type}:{self.record_id}"


class ApiToken(models.Model):
    """A personal API token; only a SHA-256 of the secret is stored. Revoked, never deleted."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(
        max_length=20, default="read_write", help_text="read (GET only) or read_write"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditCheckpoint(models.Model):
    """A signed note of the chain's head at a moment (seq, hash), kept so that verify can tell
    a chain cut short or rewritten from event k on: the chain alone cannot (ADR 0001).

    `mac` is an HMAC-SHA256 over (seq, head_hash, taken_at, occasion) with the seal key kept
    outside the database; a copy of each checkpoint is also appended to a file outside the
    database (settings.AUDIT_CHECKPOINT_LOG), which verify reads as well.
    """

    seq = models.BigIntegerField(help_text="seq of the head event when taken (0: empty chain)")
    head_hash = models.CharField(max_length=64)
    taken_at = models.DateTimeField()
    occasion = models.CharField(max_length=20, help_text="periodic, export or manual")
    taken_by = models.CharField(max_length=150, help_text="username, or 'system'")
    key_id = models.CharField(max_length=16, help_text="which key signed it (its fingerprint)")
    mac = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq", "pk"]
        indexes = [models.Index(fields=["seq"], name="audit_checkpoint_seq_idx")]

    def __str__(self) -> str:
        return f"checkpoint at #{self.seq} ({self.occasion})"


class NumberSequence(models.Model):
    """The last number handed out for a key (DEV, SOP, BR...), per site and year where the
    number carries them. Locked with select_for_update, so two writers never share a number.

    `scope` is the site's code or '' for a number that is unique across sites; `year` is the
    year in the site's zone, or 0 for a number without a year.
    """

    key = models.CharField(max_length=40)
    scope = models.CharField(max_length=20, blank=True, default="")
    year = models.IntegerField(default=0)
    last = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "scope", "year"], name="number_sequence_unique"),
            models.CheckConstraint(condition=Q(last__gte=0), name="number_sequence_last_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.key}/{self.scope or '-'}/{self.year or '-'}: {self.last}"


class IdempotencyKey(models.Model):
    """A machine's POST remembered by its Idempotency-Key (DESIGN.md rule 8): a retry gets the
    first answer again and writes nothing, never a duplicate record."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the request body")
    status_code = models.IntegerField()
    response_body = models.TextField(blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.method} {self.path} -> {self.status_code}"
