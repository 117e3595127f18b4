"""`vein2vein user unlock|set-password USERNAME --by ADMIN --reason R`: user management from
the console, through the same services as the Users pages (audited, as the named admin).

It replaces Django's `createsuperuser` and `changepassword`, which write users with no audit
event and are not offered by the console script (cli.py). The new password is read from the
environment variable VEIN2VEIN_NEW_PASSWORD or asked for without echo.
"""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vein2vein.core.errors import DomainError
from vein2vein.core.models import User
from vein2vein.core.services import set_password, unlock_user


class Command(BaseCommand):
    help = "Unlock a user or reset a password, as a named administrator (audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name in ("unlock", "set-password"):
            cmd = sub.add_parser(name)
            cmd.add_argument("username")
            cmd.add_argument("--by", required=True, help="the administrator doing it")
            cmd.add_argument("--reason", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        admin = self._user(options["by"], "by")
        user = self._user(options["username"], "username")
        try:
            if options["action"] == "unlock":
                unlock_user(actor=admin, user_id=user.pk, reason=options["reason"])
                self.stdout.write(f"unlocked {user.username}")
            else:
                password = os.environ.get("VEIN2VEIN_NEW_PASSWORD") or getpass.getpass(
                    f"New password for {user.username}: "
                )
                set_password(
                    actor=admin, user_id=user.pk, password=password, reason=options["reason"]
                )
                self.stdout.write(f"password set for {user.username}; to be changed at login")
        except DomainError as exc:
            raise CommandError(f"{exc.field or 'error'}: {exc.message}") from exc

    @staticmethod
    def _user(username: str, field: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"{field}: no user {username!r}")
        return user
