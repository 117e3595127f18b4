"""core.forms.run_form: the posted-form → service → outcome step every page shares."""

from __future__ import annotations

from django import forms
from django.test import RequestFactory

from vein2vein.core.errors import Conflict
from vein2vein.core.forms import run_form


class NameForm(forms.Form):
    name = forms.CharField()


def test_get_is_not_done_and_answers_200():
    request = RequestFactory().get("/")
    outcome = run_form(request, NameForm(), lambda data: 1 / 0)
    assert (outcome.done, outcome.status) == (False, 200)


def test_invalid_post_is_400_and_the_service_is_not_called():
    request = RequestFactory().post("/", {})
    outcome = run_form(request, NameForm(request.POST), lambda data: 1 / 0)
    assert (outcome.done, outcome.status) == (False, 400)


def test_domain_error_lands_on_its_field_with_its_status():
    request = RequestFactory().post("/", {"name": "x"})
    form = NameForm(request.POST)

    def refuse(data):  # type: ignore[no-untyped-def]
        raise Conflict("taken", field="name")

    outcome = run_form(request, form, refuse)
    assert (outcome.done, outcome.status) == (False, 409)
    assert form.errors["name"] == ["taken"]


def test_success_returns_the_result():
    request = RequestFactory().post("/", {"name": "x"})
    outcome = run_form(request, NameForm(request.POST), lambda data: data["name"].upper())
    assert (outcome.done, outcome.result) == (True, "X")
