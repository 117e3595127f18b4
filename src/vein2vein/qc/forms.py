"""Forms parse and show input; the qc services decide. Errors land on the named field."""

from __future__ import annotations

from typing import Any

from django import forms

from .choices import LabKind, SamplePurpose

TEXTAREA = forms.Textarea(attrs={"rows": 3})


def password_field() -> forms.CharField:
    return forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Re-enter your password to sign",
        strip=False,
    )


class SampleForm(forms.Form):
    purpose = forms.ChoiceField(choices=SamplePurpose.choices)
    volume = forms.DecimalField(max_digits=12, decimal_places=3, min_value=0)
    unit = forms.CharField(max_length=20, initial="mL")
    batch_sample_number = forms.CharField(
        max_length=40, required=False, help_text="The number on the label of the drawn sample"
    )
    storage_location = forms.CharField(max_length=200, required=False)
    assigned_to_id = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Analyst"
    )
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, analysts: list[tuple[int, str]] = (), **kw: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kw)
        self.fields["assigned_to_id"].choices = [("", "—"), *analysts]  # type: ignore[attr-defined]


class AliquotForm(forms.Form):
    volume = forms.DecimalField(max_digits=12, decimal_places=3, min_value=0)
    storage_location = forms.CharField(max_length=200, required=False)


class ShipForm(forms.Form):
    lab_kind = forms.ChoiceField(choices=LabKind.choices)
    lab_name = forms.CharField(max_length=200)
    packet = forms.CharField(widget=TEXTAREA, help_text="Conditions, courier, tracking number")


class ReceiveForm(forms.Form):
    received_by = forms.CharField(max_length=200)
    condition_on_arrival = forms.CharField(widget=TEXTAREA)


class ResultForm(forms.Form):
    method = forms.ChoiceField(label="Test")
    value = forms.CharField(
        max_length=40, required=False, help_text="A number, for a numeric criterion"
    )
    unit = forms.CharField(max_length=30, required=False, help_text="Default: the criterion's")
    text = forms.CharField(
        max_length=200,
        required=False,
        help_text="pass / fail, not detected / detected, conforms / does not conform",
    )
    equipment_id = forms.CharField(max_length=30, required=False, label="Equipment ID")
    retest_of_id = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Retest of"
    )
    comment = forms.CharField(widget=TEXTAREA, required=False)
    file = forms.FileField(required=False, help_text="Raw data (kept with its SHA-256)")

    def __init__(
        self,
        *args: Any,
        methods: list[tuple[str, str]] = (),  # type: ignore[assignment]
        retests: list[tuple[int, str]] = (),  # type: ignore[assignment]
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self.fields["method"].choices = list(methods)  # type: ignore[attr-defined]
        self.fields["retest_of_id"].choices = [("", "— (a first test)"), *retests]  # type: ignore[attr-defined]


class SignForm(forms.Form):
    password = password_field()
    comment = forms.CharField(widget=TEXTAREA, required=False)


class PasswordForm(forms.Form):
    password = password_field()


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=TEXTAREA, help_text="Why the result is invalid")


class PhaseIForm(forms.Form):
    assignable_cause = forms.TypedChoiceField(
        choices=[("no", "No: open phase II"), ("yes", "Yes: a laboratory error")],
        coerce=lambda v: v == "yes",
        label="Assignable laboratory cause found",
    )
    summary = forms.CharField(widget=TEXTAREA)


class SummaryForm(forms.Form):
    summary = forms.CharField(widget=TEXTAREA)


class CounterUploadForm(forms.Form):
    instrument = forms.ChoiceField()
    file = forms.FileField(help_text="The instrument's export file")

    def __init__(self, *args: Any, instruments: list[str] = (), **kw: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kw)
        self.fields["instrument"].choices = [(i, i) for i in instruments]  # type: ignore[attr-defined]


class FlowUploadForm(forms.Form):
    method = forms.ChoiceField(label="Flow test")
    gate = forms.CharField(max_length=100, help_text="The gate whose % of parent is the result")
    equipment_id = forms.CharField(max_length=30, label="Flow cytometer ID")
    file = forms.FileField(label="FCS file")

    def __init__(self, *args: Any, methods: list[tuple[str, str]] = (), **kw: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kw)
        self.fields["method"].choices = list(methods)  # type: ignore[attr-defined]
