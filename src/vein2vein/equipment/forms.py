"""Forms parse and show input; the equipment services decide. Errors land on the named field."""

from __future__ import annotations

from typing import Any

from django import forms

from vein2vein.core.models import Site

from .choices import EquipmentKind, EquipmentStatus, PlanKind, QualificationStage, Result
from .models import Equipment

TEXTAREA = forms.Textarea(attrs={"rows": 3})


def _any(choices: list[tuple[str, str]], label: str = "Any") -> list[tuple[str, str]]:
    return [("", label), *choices]


def password_field() -> forms.CharField:
    return forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Re-enter your password to sign",
        strip=False,
    )


class EquipmentForm(forms.Form):
    equipment_id = forms.CharField(
        max_length=30, label="Equipment ID", help_text="Asset tag, e.g. BSC-01"
    )
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=EquipmentKind.choices)
    site = forms.ModelChoiceField(queryset=Site.objects.none())
    location = forms.CharField(max_length=200, help_text="Room, e.g. Suite 1 / Grade B")
    manufacturer = forms.CharField(max_length=200, required=False)
    model = forms.CharField(max_length=200, required=False)
    serial_number = forms.CharField(max_length=100, required=False)

    def __init__(self, *args: Any, sites: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites if sites is not None else Site.objects.none()  # type: ignore[attr-defined]


class EditForm(forms.Form):
    name = forms.CharField(max_length=200)
    location = forms.CharField(max_length=200)
    manufacturer = forms.CharField(max_length=200, required=False)
    model = forms.CharField(max_length=200, required=False)
    serial_number = forms.CharField(max_length=100, required=False)
    reason = forms.CharField(widget=TEXTAREA, help_text="Why the correction is made")

    @classmethod
    def for_unit(cls, data: Any, unit: Equipment) -> EditForm:
        initial = {
            f: getattr(unit, f)
            for f in ("name", "location", "manufacturer", "model", "serial_number")
        }
        return cls(data, initial=initial)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=EquipmentStatus.choices, label="New status")
    reason = forms.CharField(widget=TEXTAREA)


class QualificationForm(forms.Form):
    stage = forms.ChoiceField(choices=QualificationStage.choices)
    document = forms.CharField(
        max_length=20,
        label="Controlled document",
        help_text="Protocol/report number, e.g. FRM-0101",
    )
    result = forms.ChoiceField(choices=Result.choices)
    performed_on = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), label="Executed on"
    )
    remarks = forms.CharField(widget=TEXTAREA, required=False)


class SignForm(forms.Form):
    password = password_field()
    reason = forms.CharField(widget=TEXTAREA, required=False, label="Comment (optional)")


class PlanForm(forms.Form):
    kind = forms.ChoiceField(choices=PlanKind.choices)
    title = forms.CharField(max_length=200, help_text="e.g. Speed and temperature calibration")
    interval_days = forms.IntegerField(min_value=1, max_value=3660, label="Interval (days)")


class IntervalForm(forms.Form):
    interval_days = forms.IntegerField(min_value=1, max_value=3660, label="New interval (days)")
    reason = forms.CharField(widget=TEXTAREA)


class ServiceForm(forms.Form):
    plan = forms.ChoiceField(label="Plan")
    performed_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label="Performed at",
        help_text="When the work was done, site time; not in the future",
    )
    result = forms.ChoiceField(choices=Result.choices)
    certificate = forms.FileField(
        required=False, help_text="Certificate (PDF); required for a calibration"
    )
    remarks = forms.CharField(widget=TEXTAREA, required=False, help_text="Required when it failed")
    password = password_field()

    def __init__(self, *args: Any, unit: Equipment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [  # type: ignore[attr-defined]
            (str(p.pk), f"{p.get_kind_display()}: {p.title}")
            for p in unit.plans.filter(is_active=True)
        ]


class UsageStartForm(forms.Form):
    batch_type = forms.CharField(
        max_length=100, initial="manufacturing.batch", label="Batch record type"
    )
    batch_id = forms.CharField(max_length=64, label="Batch record ID")
    batch_label = forms.CharField(
        max_length=100, label="Batch number", help_text="e.g. B-2026-0012"
    )
    step = forms.CharField(max_length=200)


class ConfirmForm(forms.Form):
    pass
