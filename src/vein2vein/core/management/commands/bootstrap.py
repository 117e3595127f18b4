"""`vein2vein bootstrap`: the first site and administrator of a new installation."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vein2vein.core.errors import DomainError
from vein2vein.core.services import bootstrap_installation


class Command(BaseCommand):
    help = "Create the first site and the first administrator (only when none exists)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site-code", required=True)
        parser.add_argument("--site-name", required=True)
        parser.add_argument("--site-kind", default="manufacturing")
        parser.add_argument("--time-zone", required=True)
        parser.add_argument("--fin", default="")
        parser.add_argument("--username", required=True)
        parser.add_argument("--full-name", required=True)

    def handle(self, *args: Any, **o: Any) -> None:
        password = getpass.getpass("Administrator password: ")
        try:
            site, admin = bootstrap_installation(
                site_code=o["site_code"],
                site_name=o["site_name"],
                site_kind=o["site_kind"],
                time_zone=o["time_zone"],
                fin=o["fin"],
                username=o["username"],
                full_name=o["full_name"],
                password=password,
            )
        except DomainError as exc:
            raise CommandError(f"{exc.field or 'error'}: {exc.message}") from exc
        self.stdout.write(f"Created site {site.code} and administrator {admin.username}.")
