"""Personal API tokens: shown once, stored hashed, revocable, acting with the user's roles."""

from __future__ import annotations

import hashlib

import pytest
from django.core.management import call_command

from tests.core.helpers import nothing_written
from vein2vein.core import services
from vein2vein.core.errors import Conflict, PermissionRefused
from vein2vein.core.models import ApiToken
from vein2vein.core.services.tokens import user_for_token


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
