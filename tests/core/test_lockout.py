"""Lockout after 5 failures (logins or signatures); idle session timeout; argon2 hashing."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from vein2vein.core import services
from vein2vein.core.errors import SignatureRefused
from vein2vein.core.models import Signature


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


def test_idle_session_timeout_is_fifteen_minutes_and_refreshed_on_every_request():
    assert settings.SESSION_COOKIE_AGE == 15 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True


def test_session_expires_when_idle(operator, settings):  # type: ignore[no-untyped-def]
    import time

    settings.SESSION_COOKIE_AGE = 1
    client = Client()
    client.force_login(operator)
    assert client.get("/").status_code == 200
    time.sleep(1.2)
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_production_password_hasher_is_argon2():
    from vein2vein import settings as production

    assert production.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
