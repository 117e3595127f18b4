"""`vein2vein demo`: load the demo data (idempotent) and print the logins."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from django.core.management.base import BaseCommand

from vein2vein.core.demo import load_demo

# Each domain app's demo, bottom up; each is idempotent and writes through its services.
APP_DEMOS = (
    "vein2vein.documents.demo",
    "vein2vein.training.demo",
    "vein2vein.quality.demo",
    "vein2vein.materials.demo",
    "vein2vein.equipment.demo",
    "vein2vein.chain.demo",
    "vein2vein.manufacturing.demo",
    "vein2vein.qc.demo",
    "vein2vein.release.demo",
)


class Command(BaseCommand):
    help = "Load demo sites and one user per role through the services; safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = load_demo()
        for module_name in APP_DEMOS:
            if importlib.util.find_spec(module_name) is not None:
                importlib.import_module(module_name).load_demo()
        self.stdout.write("Demo logins (http://127.0.0.1:8000/accounts/login/):")
        self.stdout.write(f"  {'username':<12} {'password':<18} {'role':<24} site")
        for username, password, role, site in logins:
            self.stdout.write(f"  {username:<12} {password:<18} {role:<24} {site}")
