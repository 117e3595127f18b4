"""Forms parse and show input; the services decide. A DomainError lands on the named field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django import forms
from django.http import HttpRequest

from .choices import Role, SignatureMeaning, SiteKind
from .errors import DomainError

T = TypeVar("T")


def attach_error(form: forms.Form, exc: DomainError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


@dataclass
class Submission(Generic[T]):
    """What a posted form did: `done` with the service's result, or the status to answer."""

    done: bool = False
    result: T | None = None
    status: int = 200


def run_form(
    request: HttpRequest, form: forms.Form, action: Callable[[dict[str, Any]], T]
) -> Submission[T]:
    """Run `action(form.cleaned_data)` (a service call) for a valid POST.

    GET: not done, 200. Invalid form: 400. A DomainError lands on its field with its status.
    """
    if request.method != "POST":
        return Submission()
    if not form.is_valid():
        return Submission(status=400)
    try:
        return Submission(done=True, result=action(form.cleaned_data))
    except DomainError as exc:
        attach_error(form, exc)
        return Submission(status=exc.status_code)


class SiteForm(forms.Form):
    code = forms.CharField(max_length=20)
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=SiteKind.choices)
    time_zone = forms.CharField(max_length=64, help_text="IANA zone, e.g. Europe/Madrid")
    fin = forms.CharField(max_length=5, required=False, label="ISBT 128 FIN")
    country = forms.CharField(
        max_length=2, required=False, help_text="ISO 3166-1 alpha-2, e.g. ES, US"
    )
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class SiteEditForm(SiteForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Why the correction is made"
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["code"].disabled = True


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class UserForm(forms.Form):
    username = forms.CharField(max_length=150)
    full_name = forms.CharField(max_length=150, help_text="Printed name on signatures")
    email = forms.EmailField(required=False)
    password = forms.CharField(
        widget=forms.PasswordInput, help_text="Initial password; changed at first login"
    )


class GrantForm(forms.Form):
    site = forms.ModelChoiceField(queryset=None)  # type: ignore[arg-type]
    role = forms.ChoiceField(choices=Role.choices)

    def __init__(self, *args: object, **kwargs: object) -> None:
        from .selectors import sites

        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["site"].queryset = sites(include_inactive=False)  # type: ignore[attr-defined]


class SignForm(forms.Form):
    record_type = forms.CharField(widget=forms.HiddenInput)
    record_id = forms.CharField(widget=forms.HiddenInput)
    meaning = forms.ChoiceField(choices=SignatureMeaning.choices)
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Re-enter your password to sign",
    )
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Comment (optional)"
    )


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(widget=forms.PasswordInput, label="Current password")
    new_password = forms.CharField(widget=forms.PasswordInput, label="New password")
    new_password_again = forms.CharField(widget=forms.PasswordInput, label="New password again")

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", "the two new passwords differ")
        return data


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. 'LIMS bridge'")
