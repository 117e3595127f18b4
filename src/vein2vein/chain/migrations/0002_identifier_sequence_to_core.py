"""Retire chain's own counter (IdentifierSequence: COI and DIN per FIN and two-digit year): its last values move to core.NumberSequence, the one
allocator (core.numbering), so numbering continues and no number is issued twice. Reversible:
going back recreates the table and copies the counters back."""

from django.db import migrations

from vein2vein.core.numbering import carry_over


def to_core(row: tuple[str, str, str, int]) -> tuple[str, str, int, int]:
    """(kind 'coi', FIN, two-digit year '26', last) -> core ('COI', FIN, 2026, last): the FIN
    the identifier carries is the scope."""
    kind, fin, year, last = row
    return kind.upper(), fin, 2000 + int(year), last


def from_core(key: str, scope: str, year: int) -> dict[str, object] | None:
    if key in ("COI", "DIN") and scope and 2000 <= year < 2100:
        return {"kind": key.lower(), "fin": scope, "year": f"{year % 100:02d}"}
    return None


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    old = apps.get_model("chain", "IdentifierSequence")
    carry_over(
        apps.get_model("core", "NumberSequence"),
        (to_core(row) for row in old.objects.values_list("kind", "fin", "year", "last")),
    )


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    old = apps.get_model("chain", "IdentifierSequence")
    for key, scope, year, last in apps.get_model("core", "NumberSequence").objects.values_list(
        "key", "scope", "year", "last"
    ):
        values = from_core(key, scope, year)
        if values is not None:
            old.objects.update_or_create(**values, defaults={"last": last})


class Migration(migrations.Migration):
    dependencies = [
        ("chain", "0001_initial"),
        ("core", "0004_shared_integrity_tables"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
        migrations.DeleteModel(name="IdentifierSequence"),
    ]
