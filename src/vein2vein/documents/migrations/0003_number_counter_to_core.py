"""Retire documents's own counter: its last values move to core.NumberSequence, the one
allocator (core.numbering), so numbering continues and no number is issued twice. Reversible:
going back recreates the table and copies the counters back.

DocumentNumberCounter: SOP, WI, FRM, SPEC, MBR, no site, no year.
"""

from django.db import migrations

from vein2vein.core.numbering import retire_counter

KEYS = ("SOP", "WI", "FRM", "SPEC", "MBR")

CARRY = retire_counter(
    "documents",
    "DocumentNumberCounter",
    fields=("prefix", "last_number"),
    to_core=lambda prefix, last: (prefix, "", 0, last),
    from_core=lambda key, scope, year, last: (
        {"prefix": key, "last_number": last} if key in KEYS and not scope and not year else None
    ),
)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0002_periodic_review_counter_obsoleted"),
        ("core", "0004_shared_integrity_tables"),
    ]

    operations = [CARRY, migrations.DeleteModel(name="DocumentNumberCounter")]
