"""A server error reaches the server log with its traceback, DEBUG off or on."""

from __future__ import annotations

import io
import logging

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path


def _broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the bug behind this 500")


urlpatterns = [path("broken/", _broken)]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("debug", [False, True])
def test_a_500_is_logged_with_its_traceback(settings, debug: bool) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = debug
    handlers = [
        h
        for h in logging.getLogger("django.request").handlers
        if isinstance(h, logging.StreamHandler)
    ]
    assert handlers, "django.request has no handler writing to the server's log"
    log = io.StringIO()
    # Swapped by hand: setStream flushes the old stream, which pytest's capture may have closed.
    old, handlers[0].stream = handlers[0].stream, log
    try:
        response = Client(raise_request_exception=False).get("/broken/")
    finally:
        handlers[0].stream = old
    assert response.status_code == 500
    written = log.getvalue()
    assert "ERROR django.request Internal Server Error: /broken/" in written
    assert "RuntimeError: the bug behind this 500" in written
    assert written.count("Internal Server Error") == 1  # once, not once per handler
