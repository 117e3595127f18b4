"""Audit events carry a seal (ADR 0002); the audit table refuses TRUNCATE on PostgreSQL, and
UPDATE and DELETE on SQLite too (DESIGN.md data integrity rule 1)."""

from django.db import migrations, models

from ._audit_triggers import PG_CREATE, PG_DROP, SQLITE_CREATE, SQLITE_DROP


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": PG_CREATE, "sqlite": SQLITE_CREATE}.get(vendor, ())
    for statement in statements:
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": PG_DROP, "sqlite": SQLITE_DROP}.get(vendor, ())
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("core", "0004_shared_integrity_tables")]
    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="seal",
            field=models.CharField(
                blank=True,
                db_default="",
                help_text="HMAC of the hash with the key kept outside the database (ADR 0002)",
                max_length=64,
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
