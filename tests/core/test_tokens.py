"""Personal API tokens: shown once, stored hashed, revocable, acting with the user's roles."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from tests.core.helpers import nothing_written
from vein2vein.core import services
from vein2vein.core.errors import Conflict, PermissionRefused, ValidationFailed
from vein2vein.core.models import ApiToken, AuditEvent
from vein2vein.core.services.tokens import (
    DEFAULT_EXPIRY_DAYS,
    MAX_EXPIRY_DAYS,
    authenticate_token,
    user_for_token,
)
from vein2vein.core.time import now


def test_token_is_stored_hashed_and_resolves_to_its_user(operator):
    token, raw = services.create_api_token(actor=operator, user=operator, name="scale bridge")
    assert raw.startswith(f"v2v_{token.prefix}_")
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(ApiToken.objects.values_list().get(pk=token.pk))
    assert user_for_token(raw) == operator
    assert user_for_token(raw + "x") is None
    assert user_for_token("v2v_nothing_here") is None


def test_revoked_token_stops_working(operator):
    token, raw = services.create_api_token(actor=operator, user=operator, name="t")
    services.revoke_api_token(actor=operator, prefix=token.prefix, reason="laptop lost")
    assert user_for_token(raw) is None
    with nothing_written(), pytest.raises(Conflict):
        services.revoke_api_token(actor=operator, prefix=token.prefix, reason="again")


def test_admin_cannot_mint_a_token_for_someone_else(admin_user, operator):
    with nothing_written(), pytest.raises(PermissionRefused):
        services.create_api_token(actor=admin_user, user=operator, name="impersonation")


def test_other_users_cannot_revoke_but_admin_can(admin_user, operator, qa_reviewer):
    token, _ = services.create_api_token(actor=operator, user=operator, name="t")
    with nothing_written(), pytest.raises(PermissionRefused):
        services.revoke_api_token(actor=qa_reviewer, prefix=token.prefix, reason="no")
    services.revoke_api_token(actor=admin_user, prefix=token.prefix, reason="offboarding")


def test_inactive_user_token_stops_working(operator):
    _, raw = services.create_api_token(actor=operator, user=operator, name="t")
    operator.is_active = False
    operator.save(update_fields=["is_active"])
    assert user_for_token(raw) is None


def test_cli_token_create_prints_a_working_token(operator, capsys):
    call_command("token", "create", operator.username, "--name", "cli")
    raw = capsys.readouterr().out.strip()
    assert user_for_token(raw) == operator


# --- refusals: locked, inactive, expired, scope, minting with a token -----------------------
def _bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _post(client: Client, url: str, body: dict, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def _lock(user) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": user.username, "password": "wrong"})


def test_locked_account_token_is_refused_with_401(operator):
    _, raw = services.create_api_token(actor=operator, user=operator, name="scale")
    assert Client().get("/api/v1/me", **_bearer(raw)).status_code == 200
    _lock(operator)
    response = Client().get("/api/v1/me", **_bearer(raw))
    assert response.status_code == 401
    assert "locked" in response.json()["detail"]
    assert user_for_token(raw) is None
    with nothing_written():
        response = _post(Client(), "/api/v1/tokens/x/revoke", {"reason": "r"}, **_bearer(raw))
    assert response.status_code == 401 and "locked" in response.json()["detail"]


def test_unlocked_account_token_works_again(admin_user, operator):
    _, raw = services.create_api_token(actor=operator, user=operator, name="scale")
    _lock(operator)
    services.unlock_user(actor=admin_user, user_id=operator.pk, reason="verified by phone")
    assert Client().get("/api/v1/me", **_bearer(raw)).status_code == 200


def test_locked_account_cannot_get_a_new_token(operator):
    _lock(operator)
    with nothing_written(), pytest.raises(PermissionRefused, match="locked") as exc:
        services.create_api_token(actor=None, user=operator, name="console")
    assert exc.value.field == "user"


def test_inactive_account_token_is_refused_with_401_naming_it(operator):
    _, raw = services.create_api_token(actor=operator, user=operator, name="t")
    operator.is_active = False
    operator.save(update_fields=["is_active"])
    response = Client().get("/api/v1/me", **_bearer(raw))
    assert response.status_code == 401 and "inactive" in response.json()["detail"]


def test_expired_token_is_refused_with_401(operator):
    token, raw = services.create_api_token(
        actor=operator, user=operator, name="t", expires_in_days=1
    )
    assert token.expires_at == token.created_at + dt.timedelta(days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=now() - dt.timedelta(seconds=1))
    response = Client().get("/api/v1/me", **_bearer(raw))
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    assert user_for_token(raw) is None


def test_wrong_secret_does_not_reveal_the_token_state(operator):
    token, raw = services.create_api_token(actor=operator, user=operator, name="t")
    ApiToken.objects.filter(pk=token.pk).update(expires_at=now() - dt.timedelta(days=1))
    response = Client().get("/api/v1/me", **_bearer(raw[:-1] + "x"))
    assert response.status_code == 401
    assert response.json()["detail"] == "the API token is not valid"


def test_tokens_expire_in_90_days_by_default(operator):
    token, _ = services.create_api_token(actor=operator, user=operator, name="t")
    assert token.expires_at == token.created_at + dt.timedelta(days=DEFAULT_EXPIRY_DAYS)
    assert token.scope == "read_write"


def test_read_scope_token_reads_but_every_write_is_refused_with_403(admin_user, site):
    _, raw = services.create_api_token(actor=admin_user, user=admin_user, name="r", scope="read")
    client = Client()
    assert client.get("/api/v1/sites", **_bearer(raw)).status_code == 200
    body = {"code": "QC-LAB", "name": "QC lab", "kind": "qc_lab", "time_zone": "Europe/Berlin"}
    for method, url in (("post", "/api/v1/sites"), ("patch", f"/api/v1/sites/{site.pk}")):
        with nothing_written():
            response = getattr(client, method)(
                url, json.dumps(body), content_type="application/json", **_bearer(raw)
            )
        assert response.status_code == 403, method
        assert response.json()["field"] == "scope"
        assert "'read'" in response.json()["detail"]
    # No PUT or DELETE route exists today; the refusal is by method, before any route runs.
    for method in ("PUT", "DELETE", "POST", "PATCH"):
        with pytest.raises(PermissionRefused, match="scope 'read'"):
            authenticate_token(raw, method=method)
    assert authenticate_token(raw, method="HEAD").user == admin_user


def test_a_token_cannot_mint_tokens(operator):
    _, raw = services.create_api_token(actor=operator, user=operator, name="t")
    with nothing_written():
        response = _post(Client(), "/api/v1/tokens", {"name": "child"}, **_bearer(raw))
    assert response.status_code == 403
    assert "cannot create tokens" in response.json()["detail"]


def test_session_creates_a_scoped_expiring_token_and_audits_it(operator):
    client = Client()
    client.force_login(operator)
    response = _post(
        client, "/api/v1/tokens", {"name": "reader", "scope": "read", "expires_in_days": 30}
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["scope"] == "read" and created["expires_at"]
    event = AuditEvent.objects.filter(action="api_token.created").latest("seq")
    assert event.changes["scope"]["new"] == "read"
    assert event.changes["expires_at"]["new"]
    token = ApiToken.objects.get(prefix=created["prefix"])
    assert token.expires_at == token.created_at + dt.timedelta(days=30)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "t", "scope": "admin"}, "scope"),
        ({"name": "t", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "t", "expires_in_days": -5}, "expires_in_days"),
        ({"name": "t", "expires_in_days": MAX_EXPIRY_DAYS + 1}, "expires_in_days"),
        ({"name": "t", "expires_in_days": "soon"}, "expires_in_days"),
    ],
)
def test_bad_scope_or_expiry_is_a_4xx_naming_the_field(operator, body, field):
    client = Client()
    client.force_login(operator)
    with nothing_written():
        response = _post(client, "/api/v1/tokens", body)
    assert 400 <= response.status_code < 500
    assert response.json()["field"] == field


def test_service_refuses_bad_expiry_types(operator):
    for value in (True, 1.5, "30", None):
        with nothing_written(), pytest.raises(ValidationFailed) as exc:
            services.create_api_token(
                actor=operator, user=operator, name="t", expires_in_days=value
            )
        assert exc.value.field == "expires_in_days"


def test_cli_token_create_takes_scope_and_expiry(operator, capsys):
    call_command(
        "token",
        "create",
        operator.username,
        "--name",
        "cli",
        "--scope",
        "read",
        "--expires-days",
        "7",
    )
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(prefix=raw.split("_")[1])
    assert token.scope == "read"
    assert token.expires_at == token.created_at + dt.timedelta(days=7)
    call_command("token", "list", operator.username)
    assert "read\tactive" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "field"),
    [(["--scope", "all"], "scope"), (["--expires-days", "400"], "expires_in_days")],
)
def test_cli_token_create_refuses_bad_options(operator, args, field):
    with nothing_written(), pytest.raises(CommandError, match=field):
        call_command("token", "create", operator.username, *args)
