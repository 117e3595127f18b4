"""The console script offers an allow-list: commands that write without an audit event are
refused and change nothing; user management goes through the audited services."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from vein2vein import cli
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.models import AuditEvent, User


@pytest.mark.parametrize(
    "command",
    ["flush", "loaddata", "createsuperuser", "changepassword", "shell", "dbshell", "sqlflush"],
)
def test_commands_that_write_without_audit_are_refused(command, admin_user, capsys) -> None:  # type: ignore[no-untyped-def]
    events, users = AuditEvent.objects.count(), User.objects.count()
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--noinput"])
    assert exit_info.value.code == 2
    assert f"'{command}' is not offered" in capsys.readouterr().err
    assert (AuditEvent.objects.count(), User.objects.count()) == (events, users)
    assert verify_chain().ok


def test_an_unknown_command_is_refused(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command"])
    assert exit_info.value.code == 2


def test_the_offered_commands_exist() -> None:
    from django.core.management import get_commands

    known = set(get_commands())
    # help and version are answered by Django's command-line utility itself.
    assert cli.ALLOWED - known <= {"help", "version"}, cli.ALLOWED - known


def test_offered_commands_run(capsys) -> None:  # type: ignore[no-untyped-def]
    cli.main(["version"])
    assert capsys.readouterr().out.startswith("5.2")


def test_user_unlock_and_set_password_go_through_the_services(make_user, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    admin = make_user(Role.ADMIN, username="admin9")
    person = make_user(Role.OPERATOR, username="op9")
    call_command("user", "unlock", "op9", "--by", "admin9", "--reason", "Locked after typos")
    monkeypatch.setenv("VEIN2VEIN_NEW_PASSWORD", "A-new-Passw0rd-for-op9!")
    call_command("user", "set-password", "op9", "--by", "admin9", "--reason", "Forgot it")
    person.refresh_from_db()
    assert person.check_password("A-new-Passw0rd-for-op9!")
    assert person.must_change_password
    actions = list(
        AuditEvent.objects.filter(actor=admin).order_by("seq").values_list("action", flat=True)
    )
    assert len(actions) == 2, actions
    assert verify_chain().ok


def test_user_command_refuses_a_non_admin(make_user) -> None:  # type: ignore[no-untyped-def]
    from django.core.management.base import CommandError

    make_user(Role.OPERATOR, username="op8")
    make_user(Role.OPERATOR, username="op7")
    events = AuditEvent.objects.count()
    with pytest.raises(CommandError, match="needs"):
        call_command("user", "unlock", "op7", "--by", "op8", "--reason", "Not mine to do")
    assert AuditEvent.objects.count() == events


def test_simulate_is_offered() -> None:
    """The simulator writes only through the services, so the console script offers it."""
    assert cli.refusal("simulate") is None
