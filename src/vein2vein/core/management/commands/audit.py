"""`vein2vein audit verify|checkpoint`: walk the chain (exit 0 'OK <n> events', or 1 naming the
event), or take a signed head checkpoint of it now."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from vein2vein.core.audit import verify_chain
from vein2vein.core.checkpoints import log_path, take_checkpoint


class Command(BaseCommand):
    help = (
        "Audit trail tools. `verify` checks the whole hash chain, the seals, the signed head "
        "checkpoints and every signature row; `checkpoint` records the chain's head now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify", "checkpoint"])

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "checkpoint":
            cp = take_checkpoint(occasion="manual")
            self.stdout.write(
                f"checkpoint at #{cp.seq} (head {cp.head_hash[:16]}, key {cp.key_id}); "
                f"copy in {log_path()}"
            )
            return
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
