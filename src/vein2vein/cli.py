"""The `vein2vein` console script: every Django management command, e.g. `vein2vein migrate`."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vein2vein.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["vein2vein", *sys.argv[1:]])


if __name__ == "__main__":
    main()
