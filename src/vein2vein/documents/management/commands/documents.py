"""`vein2vein documents activate-due`: make effective every approved version whose date has come.

Run it daily (cron or Celery beat: task `documents.activate_due_versions`); pages and the
`effective_version` selector also activate lazily, so nobody reads a stale state meanwhile.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from vein2vein.documents.services import activate_due_versions


class Command(BaseCommand):
    help = "Controlled documents. `activate-due` makes due approved versions effective."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["activate-due"])

    def handle(self, *args: Any, **options: Any) -> None:
        activated = activate_due_versions()
        for version in activated:
            self.stdout.write(f"effective: {version} ({version.document.title})")
        self.stdout.write(f"{len(activated)} version(s) made effective")
