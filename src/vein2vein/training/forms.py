"""Training forms: parse and show input; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms

from vein2vein.core.choices import Role
from vein2vein.core.models import Site, User
from vein2vein.core.permissions import GMP_ROLES

from . import selectors
from .choices import MAX_DUE_DAYS, MAX_VALIDITY_MONTHS, QualificationKind
from .services._common import default_due_days

GMP_ROLE_CHOICES = [(r.value, r.label) for r in Role if r in GMP_ROLES]
PASSWORD_WIDGET = forms.PasswordInput(attrs={"autocomplete": "current-password"})
# A tick box at its natural size (the stylesheet stretches inputs to the form's width).
CHECKBOX = forms.CheckboxInput(
    attrs={"style": "width:1.6rem;height:1.6rem;min-height:auto;vertical-align:middle"}
)


def _comment() -> forms.CharField:
    return forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Comment (optional)",
    )


class SignAssignmentForm(forms.Form):
    password = forms.CharField(widget=PASSWORD_WIDGET, help_text="Re-enter your password to sign")
    reason = _comment()


class CurriculumForm(forms.Form):
    role = forms.ChoiceField(choices=GMP_ROLE_CHOICES)
    site = forms.ModelChoiceField(
        queryset=Site.objects.filter(is_active=True),
        required=False,
        empty_label="All sites",
        help_text="Leave at 'All sites' unless this site needs its own curriculum",
    )
    name = forms.CharField(max_length=200)
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class AddDocumentForm(forms.Form):
    document_number = forms.ChoiceField(label="Document", choices=())
    trainer_led = forms.BooleanField(
        required=False,
        label="Trainer-led",
        widget=CHECKBOX,
        help_text="A trainer signs off after the trainee (e.g. gowning)",
    )
    due_days = forms.IntegerField(
        min_value=1,
        max_value=MAX_DUE_DAYS,
        label="Days to read",
        help_text="Days a trainee has to read each newly effective version",
    )

    def __init__(self, *args: Any, listed: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["document_number"].choices = [  # type: ignore[attr-defined]
            (d.number, f"{d.number} — {d.title}")
            for d in selectors.documents()
            if d.number not in listed
        ]
        self.fields["due_days"].initial = default_due_days()


class AddQualificationForm(forms.Form):
    qualification_code = forms.ChoiceField(label="Qualification", choices=())

    def __init__(self, *args: Any, listed: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["qualification_code"].choices = [  # type: ignore[attr-defined]
            (t.code, f"{t.name} ({t.code})")
            for t in selectors.qualification_types(include_inactive=False)
            if t.code not in listed
        ]


class QualificationTypeForm(forms.Form):
    code = forms.CharField(max_length=40, help_text="e.g. ASEPTIC-GOWNING")
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=QualificationKind.choices)
    subject = forms.CharField(
        required=False, max_length=200, help_text="The process step or instrument it covers"
    )
    validity_months = forms.IntegerField(min_value=1, max_value=MAX_VALIDITY_MONTHS)
    description = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class QualificationTypeEditForm(QualificationTypeForm):
    is_active = forms.BooleanField(required=False, label="Active (may be granted)", widget=CHECKBOX)
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why the correction is made",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].disabled = True


class PersonChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.printed_name} ({obj.username})"


class GrantQualificationForm(forms.Form):
    user = PersonChoiceField(queryset=User.objects.none(), label="Person")
    qualification_code = forms.ChoiceField(label="Qualification", choices=())
    site = forms.ModelChoiceField(queryset=Site.objects.filter(is_active=True))
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Basis of the grant, e.g. the APS run or the assessment",
    )
    password = forms.CharField(
        widget=PASSWORD_WIDGET, help_text="Re-enter your password to sign the grant (approved)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            pk__in=[u.pk for u in selectors.people()]
        ).order_by("full_name")
        self.fields["qualification_code"].choices = [  # type: ignore[attr-defined]
            (t.code, f"{t.name} — {t.validity_months} months")
            for t in selectors.qualification_types(include_inactive=False)
        ]


class MatrixFilterForm(forms.Form):
    site = forms.ModelChoiceField(
        queryset=Site.objects.filter(is_active=True), required=False, empty_label="All sites"
    )
    role = forms.ChoiceField(required=False, choices=[("", "All roles"), *GMP_ROLE_CHOICES])
