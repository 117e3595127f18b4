"""`vein2vein chain check-clocks`: raise a deviation for each order whose fresh apheresis
material ran out of stability time before manufacturing started (once per order).

Celery beat runs the same check every 5 minutes (task `chain.check_stability_clocks`); the
command is for sites that schedule it with cron instead.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from vein2vein.chain.services import check_stability_clocks


class Command(BaseCommand):
    help = "Chain of identity. `check-clocks` raises deviations for expired stability clocks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["check-clocks"])

    def handle(self, *args: Any, **options: Any) -> None:
        raised = check_stability_clocks()
        for coi in raised:
            self.stdout.write(f"stability time exceeded: {coi} (deviation raised)")
        self.stdout.write(f"{len(raised)} order(s) past their stability time")
