"""The `vein2vein` console script: an allow-list of management commands.

Django's own `flush`, `loaddata`, `createsuperuser`, `changepassword`, `shell`, `dbshell` and the
like write users or GMP rows without an audit event (`flush` empties the audit table), so they
are not offered. People are managed through the services: `vein2vein bootstrap` (the first
administrator), `vein2vein user ...` and the Users pages. A developer who needs Django's full
command set runs `python -m django` with DJANGO_SETTINGS_MODULE=vein2vein.settings.
"""

from __future__ import annotations

import os
import sys

# Django's commands that read, check or set up without touching GMP rows.
DJANGO_COMMANDS = frozenset(
    {
        "check",
        "collectstatic",
        "createcachetable",
        "diffsettings",
        "help",
        "makemigrations",
        "migrate",
        "sendtestemail",
        "showmigrations",
        "sqlmigrate",
        "version",
    }
)
# Our own commands: each writes only through the services.
VEIN2VEIN_COMMANDS = frozenset(
    {
        "audit",
        "bootstrap",
        "chain",
        "demo",
        "documents",
        "flow",
        "instruments",
        "materials",
        "release",
        "serve",
        "simulate",
        "token",
        "user",
    }
)
ALLOWED = DJANGO_COMMANDS | VEIN2VEIN_COMMANDS


def refusal(command: str) -> str | None:
    """Why `command` is not offered, or None when it is."""
    if command in ALLOWED or command.startswith("-"):
        return None
    return (
        f"vein2vein: '{command}' is not offered: it could write records without an audit event. "
        f"Commands: {', '.join(sorted(ALLOWED))}."
    )


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vein2vein.settings")
    if args:
        why = refusal(args[0])
        if why is not None:
            print(why, file=sys.stderr)
            raise SystemExit(2)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["vein2vein", *args])


if __name__ == "__main__":
    main()
