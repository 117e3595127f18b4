"""`vein2vein token create USERNAME [--scope read|read_write] [--expires-days N]`,
`token revoke PREFIX --reason R`, `token list USERNAME`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vein2vein.core.errors import DomainError
from vein2vein.core.models import User
from vein2vein.core.services import create_api_token, revoke_api_token
from vein2vein.core.services.tokens import DEFAULT_EXPIRY_DAYS, MAX_EXPIRY_DAYS, SCOPES


class Command(BaseCommand):
    help = "Personal API tokens, from the server console (recorded as the 'system' actor)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("username")
        create.add_argument("--name", default="console")
        create.add_argument("--scope", default="read_write", help=f"one of: {', '.join(SCOPES)}")
        create.add_argument(
            "--expires-days",
            type=int,
            default=DEFAULT_EXPIRY_DAYS,
            help=f"days until the token stops working (1 to {MAX_EXPIRY_DAYS})",
        )
        revoke = sub.add_parser("revoke")
        revoke.add_argument("prefix")
        revoke.add_argument("--reason", required=True)
        listing = sub.add_parser("list")
        listing.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "create":
                user = self._user(options["username"])
                _, raw = create_api_token(
                    actor=None,
                    user=user,
                    name=options["name"],
                    scope=options["scope"],
                    expires_in_days=options["expires_days"],
                )
                self.stdout.write(raw)
            elif options["action"] == "revoke":
                token = revoke_api_token(
                    actor=None, prefix=options["prefix"], reason=options["reason"]
                )
                self.stdout.write(f"revoked {token.prefix}")
            else:
                for t in self._user(options["username"]).api_tokens.all():
                    state = "revoked" if t.revoked_at else "active"
                    expires = f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "never"
                    self.stdout.write(
                        f"{t.prefix}\t{t.name}\t{t.scope}\t{state}\t"
                        f"{t.created_at:%Y-%m-%d}\texpires {expires}"
                    )
        except DomainError as exc:
            raise CommandError(f"{exc.field or 'error'}: {exc.message}") from exc

    @staticmethod
    def _user(username: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"username: no user {username!r}")
        return user
