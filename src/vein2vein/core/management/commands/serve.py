"""`vein2vein serve`: collect static files and run gunicorn (a production WSGI server)."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the platform on http://127.0.0.1:8000 (gunicorn, static files served locally)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("VEIN2VEIN_BIND", "127.0.0.1:8000"))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("collectstatic", interactive=False, verbosity=0)
        argv = [
            "gunicorn",
            "vein2vein.wsgi:application",
            "--bind",
            options["bind"],
            "--workers",
            str(options["workers"]),
            "--max-requests",
            "2000",
            "--max-requests-jitter",
            "200",
            "--access-logfile",
            "-",
        ]
        self.stdout.write(f"Serving on http://{options['bind']}/  (Ctrl-C to stop)")
        sys.stdout.flush()
        os.execvp(sys.executable, [sys.executable, "-m", *argv])  # noqa: S606
