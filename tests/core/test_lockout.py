"""Lockout after 5 failures (logins or signatures); idle session timeout; argon2 hashing."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from vein2vein.core import services
from vein2vein.core.errors import SignatureRefused
from vein2vein.core.middleware import REFRESHED_KEY, refresh_seconds
from vein2vein.core.models import Signature
from vein2vein.core.passwords import Argon2idHasher


def _login(client: Client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_the_sixth_wrong_login_locks_the_account(operator):
    client = Client()
    for _ in range(5):
        response = _login(client, operator.username, "wrong-password")
        assert response.status_code == 200  # the form again, with an error
        assert b"correct username and password" in response.content
        assert "_auth_user_id" not in client.session
    response = _login(client, operator.username, "wrong-password")
    assert response.status_code == 429
    assert b"locked" in response.content
    # Locked now: even the right password is refused.
    response = _login(client, operator.username, PASSWORD)
    assert response.status_code == 429
    assert b"locked" in response.content
    assert "_auth_user_id" not in client.session


def test_five_wrong_logins_do_not_lock(operator):
    client = Client()
    for _ in range(5):
        _login(client, operator.username, "wrong-password")
    response = _login(client, operator.username, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(operator.pk)


def test_wrong_signature_passwords_count_toward_lockout(qa_reviewer, site):
    for _ in range(5):
        with pytest.raises(SignatureRefused, match="incorrect"):
            services.sign_record(actor=qa_reviewer, record=site, meaning="reviewed", password="x")
    with pytest.raises(SignatureRefused, match="now locked"):
        services.sign_record(actor=qa_reviewer, record=site, meaning="reviewed", password="x")
    with nothing_written(), pytest.raises(SignatureRefused, match="locked"):
        services.sign_record(actor=qa_reviewer, record=site, meaning="reviewed", password=PASSWORD)
    assert Signature.objects.count() == 0
    response = _login(Client(), qa_reviewer.username, PASSWORD)
    assert response.status_code == 429


def test_admin_unlocks(admin_user, operator):
    client = Client()
    for _ in range(6):
        _login(client, operator.username, "wrong-password")
    assert _login(client, operator.username, PASSWORD).status_code == 429
    services.unlock_user(
        actor=admin_user, user_id=operator.pk, reason="identity confirmed by phone"
    )
    assert _login(Client(), operator.username, PASSWORD).status_code == 302


def test_idle_session_timeout_is_fifteen_minutes_refreshed_at_most_once_a_minute():
    assert settings.SESSION_COOKIE_AGE == 15 * 60
    assert refresh_seconds() == 60
    assert "vein2vein.core.middleware.IdleTimeoutMiddleware" in settings.MIDDLEWARE


def _stored_expiry(client: Client) -> dt.datetime:
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_a_request_within_the_minute_does_not_write_the_session(operator):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(operator)
    assert client.get("/").status_code == 200
    before = _stored_expiry(client)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    assert not [
        q
        for q in captured.captured_queries
        if "django_session" in q["sql"] and q["sql"].lstrip().upper().startswith("UPDATE")
    ]
    assert _stored_expiry(client) == before


def test_a_request_after_the_minute_moves_the_expiry_never_past_the_idle_time(operator):  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(operator)
    client.get("/")
    session = client.session
    session[REFRESHED_KEY] = int(time.time()) - 61  # the last refresh was 61 s ago
    session.save()
    saved = _stored_expiry(client)
    client.get("/")
    moved = _stored_expiry(client)
    assert moved > saved
    assert moved <= timezone.now() + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)


def test_session_expires_when_idle(operator, settings):  # type: ignore[no-untyped-def]
    settings.SESSION_COOKIE_AGE = 1
    client = Client()
    client.force_login(operator)
    assert client.get("/").status_code == 200
    time.sleep(1.2)
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_production_password_hasher_is_argon2id_at_owasp_minimum():
    from vein2vein import settings as production

    assert production.PASSWORD_HASHERS[0] == "vein2vein.core.passwords.Argon2idHasher"
    encoded = Argon2idHasher().encode("correct horse battery", "saltsaltsalt")
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_a_hash_at_djangos_argon2_defaults_still_verifies_and_is_upgraded():
    """ADR 0003: existing hashes keep working; the next login re-hashes them."""
    old = Argon2PasswordHasher().encode("correct horse battery", "saltsaltsalt")
    assert "m=102400,t=2,p=8" in old
    hasher = Argon2idHasher()
    assert hasher.verify("correct horse battery", old)
    assert not hasher.verify("wrong horse battery", old)
    assert hasher.must_update(old)
    assert not hasher.must_update(hasher.encode("correct horse battery", hasher.salt()))


def test_a_login_rehashes_an_old_argon2_password(settings, operator, client):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["vein2vein.core.passwords.Argon2idHasher"]
    operator.password = Argon2PasswordHasher().encode(PASSWORD, "saltsaltsalt")
    operator.save(update_fields=["password"])
    assert _login(client, operator.username, PASSWORD).status_code == 302
    operator.refresh_from_db()
    assert "m=19456,t=2,p=1" in operator.password
