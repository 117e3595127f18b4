"""`vein2vein materials import-lots FILE --site CODE --user USERNAME`: migrate a site's lots.

Every row is checked first; one bad row imports nothing and each bad row is printed with its
row number and field. The lots land in quarantine (or on hold) for QC to release.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vein2vein.core.errors import DomainError
from vein2vein.core.models import Site, User
from vein2vein.materials.services import ImportRejected, import_lots


class Command(BaseCommand):
    help = "Materials. `import-lots FILE --site CODE --user USERNAME` imports lots from a CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["import-lots"])
        parser.add_argument("file", help="CSV file (see the columns in the materials docs)")
        parser.add_argument("--site", required=True, help="Site code, e.g. MFG-PHL")
        parser.add_argument("--user", required=True, help="Username the import is made as")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(code=options["site"]).first()
        if site is None:
            raise CommandError(f"site {options['site']} does not exist")
        actor = User.objects.filter(username=options["user"], is_active=True).first()
        if actor is None:
            raise CommandError(f"user {options['user']} does not exist or is inactive")
        try:
            with open(options["file"], "rb") as fh:
                created = import_lots(actor=actor, site_id=site.pk, file=fh)
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc.strerror}") from None
        except ImportRejected as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(exc.message) from None
        except DomainError as exc:
            raise CommandError(exc.message) from None
        for number in created:
            self.stdout.write(number)
        self.stdout.write(f"{len(created)} lot(s) imported into quarantine at {site.code}")
