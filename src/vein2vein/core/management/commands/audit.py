"""`vein2vein audit verify`: walk the chain; exit 0 with 'OK <n> events', or 1 naming the event."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from vein2vein.core.audit import verify_chain


class Command(BaseCommand):
    help = "Audit trail tools. `verify` checks the whole hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify_chain()
        if result.ok:
            self.stdout.write(f"OK {result.count} events (head {result.head_hash[:16]})")
            return
        problem = result.problem
        self.stderr.write(
            f"FAIL at event #{problem.seq}: {problem.kind}: {problem.detail} "  # type: ignore[union-attr]
            f"({result.count} events verified before it)"
        )
        sys.exit(1)
