"""Retire manufacturing's own counter: its last values move to core.NumberSequence, the one
allocator (core.numbering), so numbering continues and no number is issued twice. Reversible:
going back recreates the table and copies the counters back.

NumberSequence: B-<site code> per year; the site code becomes the scope.
"""

from django.db import migrations

from vein2vein.core.numbering import retire_counter


def to_core(prefix: str, year: int, last: int) -> tuple[str, str, int, int]:
    """('B-MFG-PHL', 2026, 9) -> ('B', 'MFG-PHL', 2026, 9)."""
    key, _, scope = prefix.partition("-")
    return key, scope, year, last


CARRY = retire_counter(
    "manufacturing",
    "NumberSequence",
    fields=("prefix", "year", "last"),
    to_core=to_core,
    from_core=lambda key, scope, year, last: (
        {"prefix": f"B-{scope}", "year": year, "last": last} if key == "B" and scope else None
    ),
)


class Migration(migrations.Migration):
    dependencies = [
        ("manufacturing", "0001_initial"),
        ("core", "0004_shared_integrity_tables"),
    ]

    operations = [CARRY, migrations.DeleteModel(name="NumberSequence")]
