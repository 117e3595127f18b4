"""Retire materials's own counter (NumberSequence: LOT, KIT per year): its last values move to core.NumberSequence, the one
allocator (core.numbering), so numbering continues and no number is issued twice. Reversible:
going back recreates the table and copies the counters back."""

from django.db import migrations

from vein2vein.core.numbering import carry_over


KEYS = ("LOT", "KIT")


def to_core(row: tuple[str, int, int]) -> tuple[str, str, int, int]:
    """(prefix, year, last) -> core (key, scope, year, last): one count across sites."""
    prefix, year, last = row
    return prefix, "", year, last


def from_core(key: str, scope: str, year: int) -> dict[str, object] | None:
    if key in KEYS and not scope and year:
        return {"prefix": key, "year": year}
    return None


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    old = apps.get_model("materials", "NumberSequence")
    carry_over(
        apps.get_model("core", "NumberSequence"),
        (to_core(row) for row in old.objects.values_list("prefix", "year", "last")),
    )


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    old = apps.get_model("materials", "NumberSequence")
    for key, scope, year, last in apps.get_model("core", "NumberSequence").objects.values_list(
        "key", "scope", "year", "last"
    ):
        values = from_core(key, scope, year)
        if values is not None:
            old.objects.update_or_create(**values, defaults={"last": last})


class Migration(migrations.Migration):
    dependencies = [
        ("materials", "0001_initial"),
        ("core", "0004_shared_integrity_tables"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
        migrations.DeleteModel(name="NumberSequence"),
    ]
