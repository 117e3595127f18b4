"""Retire materials's own counter: its last values move to core.NumberSequence, the one
allocator (core.numbering), so numbering continues and no number is issued twice. Reversible:
going back recreates the table and copies the counters back.

NumberSequence: LOT, KIT per year, one count across sites.
"""

from django.db import migrations

from vein2vein.core.numbering import retire_counter

CARRY = retire_counter(
    "materials",
    "NumberSequence",
    fields=("prefix", "year", "last"),
    to_core=lambda prefix, year, last: (prefix, "", year, last),
    from_core=lambda key, scope, year, last: (
        {"prefix": key, "year": year, "last": last} if key in ("LOT", "KIT") and year else None
    ),
)


class Migration(migrations.Migration):
    dependencies = [
        ("materials", "0001_initial"),
        ("core", "0004_shared_integrity_tables"),
    ]

    operations = [CARRY, migrations.DeleteModel(name="NumberSequence")]
