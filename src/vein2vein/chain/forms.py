"""Forms parse and show input; the services decide. A DomainError lands on the named field.

Date-times are entered as the wall-clock time of the site where the work happens
(`<input type=datetime-local>`) and turned into aware datetimes in that site's zone here, so a
collection typed in Chicago is stored as the instant it happened.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import QuerySet

from vein2vein.core.models import Site
from vein2vein.standards import isbt128

from .choices import (
    HANDOFF_TARGETS,
    Anticoagulant,
    ConsentStatus,
    OrderStatus,
)
from .models import Patient, TherapyProduct

WEEKDAYS = [
    (1, "Mon"),
    (2, "Tue"),
    (3, "Wed"),
    (4, "Thu"),
    (5, "Fri"),
    (6, "Sat"),
    (7, "Sun"),
]


def _date(**kwargs: Any) -> forms.DateField:
    return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **kwargs)


def _reason(label: str = "Reason", help_text: str = "") -> forms.CharField:
    return forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label=label, help_text=help_text
    )


def _number(label: str, *, required: bool = True, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )


def _temperature(label: str, *, required: bool = False) -> forms.DecimalField:
    return _number(label, required=required)


class LocalDateTimeField(forms.Field):
    """A `datetime-local` value read as the wall-clock time of `zone`: an aware datetime.

    A time that does not exist in the zone (skipped by a clock change) is refused; an
    ambiguous one (repeated by a clock change) is taken as the first of the two.
    """

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, *, zone: str = "UTC", **kwargs: Any) -> None:
        self.zone = zone
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dt.datetime | None:
        if value in (None, ""):
            return None
        if isinstance(value, dt.datetime):
            naive = value.replace(tzinfo=None)
        else:
            try:
                naive = dt.datetime.fromisoformat(str(value).strip())
            except ValueError:
                raise forms.ValidationError(
                    "enter a date and time (YYYY-MM-DDTHH:MM)", code="invalid"
                ) from None
            if naive.tzinfo is not None:
                raise forms.ValidationError(
                    "enter the local time without a UTC offset", code="invalid"
                )
        zone = ZoneInfo(self.zone)
        aware = naive.replace(tzinfo=zone)
        if aware.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != naive:
            raise forms.ValidationError(
                f"{naive:%Y-%m-%d %H:%M} does not exist in {self.zone} (the clocks changed)",
                code="nonexistent",
            )
        return aware


# --- orders -----------------------------------------------------------------------------------


class OrderScanForm(forms.Form):
    """How the order list reads its COI box (its fields are chain/filters.py's): a scan
    ("&/CH..."), a typed COI with or without its check character, or a part of one. A whole
    COI sets `exact`."""

    exact: bool = False

    def clean_q(self) -> str:
        raw = self.cleaned_data["q"].strip()
        compact = "".join(raw.split()).upper()
        if not compact:
            return ""
        if compact.startswith("&/") or (compact.startswith("CH") and len(compact) >= 15):
            try:
                coi = isbt128.parse_coi(compact)
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from None
            self.exact = True
            return coi.text
        if not compact.isascii() or not compact.isalnum():
            raise forms.ValidationError("a COI identifier holds only letters and digits")
        return compact


class OrderForm(forms.Form):
    patient = forms.ModelChoiceField(queryset=Patient.objects.none())
    product = forms.ModelChoiceField(queryset=TherapyProduct.objects.none())
    treating_physician = forms.CharField(max_length=150, help_text="e.g. Dr. Rivera")
    requested_collection_date = _date()
    collection_site = forms.ModelChoiceField(
        queryset=Site.objects.none(), help_text="Apheresis center or clinic that collects"
    )
    manufacturing_site = forms.ModelChoiceField(queryset=Site.objects.none())

    def __init__(
        self,
        *args: Any,
        patients: QuerySet[Patient],
        products: QuerySet[TherapyProduct],
        collection_sites: QuerySet[Site],
        manufacturing_sites: QuerySet[Site],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = patients  # type: ignore[attr-defined]
        self.fields["patient"].label_from_instance = (  # type: ignore[attr-defined]
            lambda p: f"{p.site.code} {p.site_patient_id} — {p.full_name}"
        )
        self.fields["product"].queryset = products  # type: ignore[attr-defined]
        self.fields["collection_site"].queryset = collection_sites  # type: ignore[attr-defined]
        self.fields["manufacturing_site"].queryset = manufacturing_sites  # type: ignore[attr-defined]


class BookForm(forms.Form):
    day = forms.DateField(label="Collection day")


class RescheduleForm(forms.Form):
    day = forms.DateField(label="New collection day")
    reason = _reason(help_text="Why the collection moves")


class ReasonForm(forms.Form):
    reason = _reason()


class CapacityForm(forms.Form):
    start = _date(label="From")
    end = _date(label="To (inclusive)")
    capacity = forms.IntegerField(
        min_value=0,
        max_value=100,
        help_text="Collections the facility takes in per day (0 = closed)",
    )
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every day",
    )
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Reason (optional)"
    )


# --- collection, handoff, receipt ---------------------------------------------------------------


class CollectionForm(forms.Form):
    started_at = LocalDateTimeField(label="Collection started")
    ended_at = LocalDateTimeField(label="Collection ended")
    volume_ml = _number("Volume (mL)")
    anticoagulant = forms.ChoiceField(choices=Anticoagulant.choices)
    wbc_10e9_per_l = _number("WBC (10⁹/L)", required=False, help_text="When known")
    cd3_10e9_per_l = _number("CD3+ (10⁹/L)", required=False, help_text="When known")
    din = forms.CharField(
        required=False,
        max_length=40,
        label="DIN",
        help_text="Blank: one is assigned from the site's FIN. Or scan the DIN barcode, or "
        "type it with its check character.",
    )
    sec = forms.CharField(
        required=False,
        max_length=60,
        label="SEC",
        help_text="Single European Code (EU/EEA collection sites)",
    )

    def __init__(self, *args: Any, zone: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("started_at", "ended_at"):
            field = self.fields[name]
            assert isinstance(field, LocalDateTimeField)
            field.zone = zone
            field.help_text = f"Local time at the collection site ({zone})"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["din"] = data.get("din", "").strip()
        data["sec"] = data.get("sec", "").strip()
        return data


class HandoffForm(forms.Form):
    scanned_text = forms.CharField(
        max_length=300,
        label="Scan",
        help_text="Scan the bag's DIN or COI barcode (or type the COI identifier)",
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "off", "data-scan": "", "class": "scan-field"}
        ),
    )
    to_custodian = forms.CharField(max_length=200, label="To custodian", help_text="Who takes it")
    to_location = forms.CharField(max_length=200, label="To location", help_text="Where it is now")
    temperature_c = _temperature("Temperature (°C)")
    to_status = forms.ChoiceField(
        required=False,
        label="Status",
        choices=[("", "Unchanged")]
        + [(s.value, s.label) for s in OrderStatus if s.value in HANDOFF_TARGETS],
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ReceiveForm(forms.Form):
    scans = forms.CharField(
        label="Scan the bag label",
        max_length=4000,
        help_text="One scan per line: DIN, COI identifier and patient date of birth",
        widget=forms.Textarea(
            attrs={"rows": 4, "autofocus": True, "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    arrival_temperature_c = _temperature("Arrival temperature (°C)", required=True)
    logger_serial = forms.CharField(required=False, max_length=60, label="Data logger serial")
    logger_min_c = _temperature("Logger minimum (°C)")
    logger_max_c = _temperature("Logger maximum (°C)")
    logger_summary = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Logger summary"
    )
    rejection_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason (required to reject)",
    )


class ReceiptDispositionForm(forms.Form):
    """QA's signed disposition of a quarantined receipt."""

    decision = forms.ChoiceField(
        label="Disposition",
        choices=[
            ("accepted", "Accept: the material may start a batch"),
            ("rejected", "Reject: the order is rejected"),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why (the deviation's assessment, the logger trace, the SOP)",
    )
    password = forms.CharField(
        label="Password (e-signature)",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


# --- patients and products ------------------------------------------------------------------------


class PatientForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), label="Clinical site")
    site_patient_id = forms.CharField(max_length=40, label="Site patient ID")
    given_name = forms.CharField(max_length=100)
    family_name = forms.CharField(max_length=100)
    date_of_birth = _date()
    weight_kg = _number("Weight (kg)")
    diagnosis = forms.CharField(max_length=300)
    consent_status = forms.ChoiceField(choices=ConsentStatus.choices)
    consent_date = _date(required=False)

    def __init__(self, *args: Any, sites: QuerySet[Site] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if sites is None:
            del self.fields["site"]
        else:
            self.fields["site"].queryset = sites  # type: ignore[attr-defined]


class PatientCorrectForm(PatientForm):
    reason = _reason(help_text="Why the correction is made")


class ProductForm(forms.Form):
    code = forms.CharField(max_length=30, help_text="e.g. CD19-CART")
    name = forms.CharField(max_length=200)
    isbt_description_code = forms.CharField(
        max_length=5,
        required=False,
        label="ISBT 128 product description code",
        help_text="e.g. S1234",
    )
    autologous = forms.BooleanField(required=False, initial=True)
    max_hours_to_manufacture = forms.IntegerField(
        min_value=1,
        max_value=720,
        label="Maximum hours to manufacturing",
        help_text="From the end of collection to the start of manufacturing (fresh material)",
    )
    fresh_min_c = _number("Fresh material minimum (°C)")
    fresh_max_c = _number("Fresh material maximum (°C)")


class ProductEditForm(ProductForm):
    is_active = forms.BooleanField(required=False, label="Active (may be ordered)")
    reason = _reason(help_text="Why the change is made")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].disabled = True
