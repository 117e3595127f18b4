"""Forms parse and show input; the services decide. A DomainError lands on the named field."""

from __future__ import annotations

from typing import Any

from django import forms

from vein2vein.core.models import User

from .choices import DEFAULT_REVIEW_PERIOD_MONTHS, DocumentKind
from .permissions import AUTHOR_ROLES

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
PDF = forms.FileInput(attrs={"accept": "application/pdf,.pdf"})


def _authors() -> Any:
    return (
        User.objects.filter(
            is_active=True,
            role_assignments__revoked_at__isnull=True,
            role_assignments__role__in=[str(r) for r in AUTHOR_ROLES],
        )
        .distinct()
        .order_by("full_name")
    )


class UserChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.printed_name} ({obj.username})"


class VersionForm(forms.Form):
    change_summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        help_text="What changed and why",
    )
    effective_date = forms.DateField(
        required=False,
        widget=DATE,
        help_text="Effective from this date once approved; empty: on approval. Reviewed and "
        "approved with the content: to change it later, return the version to draft.",
    )
    file = forms.FileField(
        required=False, widget=PDF, label="PDF", help_text="The controlled copy (PDF, up to 50 MB)"
    )


class DocumentForm(VersionForm):
    kind = forms.ChoiceField(choices=DocumentKind.choices)
    title = forms.CharField(max_length=200)
    number = forms.CharField(
        max_length=20, required=False, help_text="Leave empty for the next number (e.g. SOP-0042)"
    )
    owner = UserChoice(queryset=User.objects.none(), required=False)
    review_period_months = forms.IntegerField(
        min_value=1,
        max_value=120,
        initial=DEFAULT_REVIEW_PERIOD_MONTHS,
        label="Review period (months)",
    )

    field_order = (
        "kind",
        "title",
        "number",
        "owner",
        "review_period_months",
        "change_summary",
        "effective_date",
        "file",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _authors()  # type: ignore[attr-defined]
        self.fields["change_summary"].initial = "Initial issue"


class EditDraftForm(VersionForm):
    file = forms.FileField(
        required=False, widget=PDF, label="Replace the PDF", help_text="Leave empty to keep it"
    )


class SignForm(forms.Form):
    """Password re-entry for a step that is itself a signature (review, approval)."""

    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Re-enter your password to sign",
    )
    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Comment (optional)",
    )


class ConfirmForm(forms.Form):
    """A step without input (submit, make effective): the POST itself is the confirmation."""
