"""`vein2vein release readiness BATCH`: the release checklist of a batch (its number or id) as
JSON; `vein2vein release shippable BATCH`: whether it may ship, and why."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vein2vein.core.errors import DomainError

from ... import selectors


def _batch_id(text: str) -> int:
    found = selectors.batch_id_of(text)
    if found is None:
        raise CommandError(f"batch {text!r} does not exist (give its number or id)")
    return found


class Command(BaseCommand):
    help = "Release readiness and shippability of a batch, as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        for name, text in (
            ("readiness", "the release checklist of BATCH"),
            ("shippable", "whether BATCH may ship"),
        ):
            p = sub.add_parser(name, help=text)
            p.add_argument("batch", help="batch number (B-...) or id")

    def handle(self, *args: Any, **options: Any) -> None:
        batch_id = _batch_id(str(options["batch"]))
        try:
            if options["what"] == "readiness":
                out: dict[str, Any] = selectors.readiness(batch_id).as_json()
            else:
                s = selectors.shippable(batch_id)
                out = {"batch_id": batch_id, "shippable": s.shippable, "reason": s.reason}
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(out, indent=2, ensure_ascii=False))
