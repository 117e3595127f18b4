"""The disposition form: the decision, QA's justification, the physician's request for an
exceptional release, and the signer's password."""

from __future__ import annotations

from django import forms

from .choices import Decision


class DispositionForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.RadioSelect)
    reason = forms.CharField(
        max_length=4000,
        label="QA justification",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    exceptional = forms.BooleanField(
        required=False,
        label="Exceptional release of an out-of-specification product",
        help_text="Only on the treating physician's documented request; the clinical site is "
        "notified.",
    )
    physician_name = forms.CharField(max_length=150, required=False, label="Treating physician")
    physician_requested_at = forms.DateTimeField(
        required=False,
        label="Requested at (with UTC offset)",
        help_text="e.g. 2026-12-01T09:00+01:00",
        widget=forms.DateTimeInput(attrs={"placeholder": "2026-12-01T09:00+01:00"}),
    )
    physician_reference = forms.CharField(
        max_length=200, required=False, label="Request reference (letter, form number)"
    )
    physician_file = forms.FileField(
        required=False, label="The request (PDF)", help_text="Optional: kept with its SHA-256"
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Re-enter your password: you sign the disposition",
    )
