"""Retire documents's own counter (DocumentNumberCounter: SOP, WI, FRM, SPEC, MBR, no year): its last values move to core.NumberSequence, the one
allocator (core.numbering), so numbering continues and no number is issued twice. Reversible:
going back recreates the table and copies the counters back."""

from django.db import migrations

from vein2vein.core.numbering import carry_over


KEYS = ("SOP", "WI", "FRM", "SPEC", "MBR")


def to_core(row: tuple[str, int]) -> tuple[str, str, int, int]:
    """(prefix, last_number) -> core (key, '', 0, last): one count, no site, no year."""
    prefix, last = row
    return prefix, "", 0, last


def from_core(key: str, scope: str, year: int) -> dict[str, object] | None:
    if key in KEYS and not scope and not year:
        return {"prefix": key}
    return None


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    old = apps.get_model("documents", "DocumentNumberCounter")
    carry_over(
        apps.get_model("core", "NumberSequence"),
        (to_core(row) for row in old.objects.values_list("prefix", "last_number")),
    )


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    old = apps.get_model("documents", "DocumentNumberCounter")
    for key, scope, year, last in apps.get_model("core", "NumberSequence").objects.values_list(
        "key", "scope", "year", "last"
    ):
        values = from_core(key, scope, year)
        if values is not None:
            old.objects.update_or_create(**values, defaults={"last_number": last})


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0002_periodic_review_counter_obsoleted"),
        ("core", "0004_shared_integrity_tables"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
        migrations.DeleteModel(name="DocumentNumberCounter"),
    ]
