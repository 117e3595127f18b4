"""`vein2vein demo`: load the demo data (idempotent) and print the logins."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from vein2vein.core.demo import load_demo


class Command(BaseCommand):
    help = "Load demo sites and one user per role through the services; safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = load_demo()
        self.stdout.write("Demo logins (http://127.0.0.1:8000/accounts/login/):")
        self.stdout.write(f"  {'username':<12} {'password':<18} {'role':<24} site")
        for username, password, role, site in logins:
            self.stdout.write(f"  {username:<12} {password:<18} {role:<24} {site}")
