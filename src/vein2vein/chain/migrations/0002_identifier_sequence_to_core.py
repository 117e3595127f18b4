"""Retire chain's own counter: its last values move to core.NumberSequence, the one
allocator (core.numbering), so numbering continues and no number is issued twice. Reversible:
going back recreates the table and copies the counters back.

IdentifierSequence: COI and DIN per FIN and two-digit year; the FIN becomes the scope.
"""

from django.db import migrations

from vein2vein.core.numbering import retire_counter


def from_core(key: str, scope: str, year: int, last: int) -> dict[str, object] | None:
    """('COI', 'B2345', 2026, 5) -> kind 'coi', fin 'B2345', year '26'."""
    if key in ("COI", "DIN") and scope and 2000 <= year < 2100:
        return {"kind": key.lower(), "fin": scope, "year": f"{year % 100:02d}", "last": last}
    return None


CARRY = retire_counter(
    "chain",
    "IdentifierSequence",
    fields=("kind", "fin", "year", "last"),
    to_core=lambda kind, fin, year, last: (kind.upper(), fin, 2000 + int(year), last),
    from_core=from_core,
)


class Migration(migrations.Migration):
    dependencies = [
        ("chain", "0001_initial"),
        ("core", "0004_shared_integrity_tables"),
    ]

    operations = [CARRY, migrations.DeleteModel(name="IdentifierSequence")]
