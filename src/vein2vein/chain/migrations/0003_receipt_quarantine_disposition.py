"""A receipt outside the product's temperature range is quarantined until QA dispositions it
(issue 10): a third decision value and who/when/why of QA's disposition. Existing receipts
keep their decision (accepted or rejected) and have no disposition."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chain", "0002_identifier_sequence_to_core"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="receipt",
            name="disposition_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="receipt",
            name="disposition_by",
            field=models.ForeignKey(
                blank=True,
                help_text="QA who dispositioned a quarantined receipt",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="receipt",
            name="disposition_reason",
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name="receipt",
            name="decision",
            field=models.CharField(
                choices=[
                    ("accepted", "Accepted"),
                    ("rejected", "Rejected"),
                    ("quarantine", "Quarantined (QA disposition pending)"),
                ],
                max_length=10,
            ),
        ),
    ]
