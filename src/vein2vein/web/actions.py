"""Action pages: GET shows the form; POST calls the service; a refusal (DomainError) lands on
the form with its status, or as a message for a button; success says so and redirects.

Apps' views may import this module (`.importlinter`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from vein2vein.core.errors import DomainError
from vein2vein.core.forms import run_form

T = TypeVar("T")

Said = str | Callable[[Any], str] | None
Where = str | Callable[[Any], str]


def _said(text: Said, result: Any) -> str | None:
    return text(result) if callable(text) else text


def _where(target: Where, result: Any) -> str:
    return target(result) if callable(target) else target


def form_action(
    request: HttpRequest,
    form: forms.Form,
    call: Callable[[dict[str, Any]], T],
    *,
    template: str,
    success: Where,
    done: Said = None,
    context: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """The form page of one action. A valid POST runs `call(cleaned_data)` (the service): on
    success `done` (a text, or made from the result) is shown after the redirect to `success`
    (a URL, or made from the result); a DomainError lands on its field and the form comes back
    with the error's status; an invalid form with 400."""
    outcome = run_form(request, form, call)
    if outcome.done:
        said = _said(done, outcome.result)
        if said:
            messages.success(request, said)
        return redirect(_where(success, outcome.result))
    return render(request, template, {"form": form, **(context or {})}, status=outcome.status)


def titled_form_action(
    request: HttpRequest,
    *,
    template: str,
    form: forms.Form,
    title: str,
    submit: str,
    run: Callable[[dict[str, Any]], Any],
    back: str,
    done: str,
    intro: str = "",
    signs: bool = False,
    multipart: bool = False,
) -> HttpResponse:
    """`form_action` for an app's one generic form page (title, intro, submit label, back
    link, signing note): success goes to the URL the service's caller returns, else `back`."""
    return form_action(
        request,
        form,
        lambda data: run(dict(data)),
        template=template,
        context={
            "title": title,
            "submit": submit,
            "back": back,
            "intro": intro,
            "signs": signs,
            "multipart": multipart,
        },
        success=lambda result: result if isinstance(result, str) else back,
        done=done,
    )


def button_action(
    request: HttpRequest,
    call: Callable[[], T],
    *,
    success: Where,
    done: Said = None,
    failure: str | None = None,
) -> HttpResponse:
    """A POSTed button with no form: the service runs; a refusal becomes an error message.
    Either way the user lands on `success` (or on `failure` after a refusal)."""
    try:
        result = call()
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(failure or _where(success, None))
    said = _said(done, result)
    if said:
        messages.success(request, said)
    return redirect(_where(success, result))
