"""Times on the batch list, the review page and the dashboard panel are the site's wall clock
labelled with the site's zone (issue 10: they were labelled UTC while showing local time)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.manufacturing.conftest import Mfg, run
from vein2vein.core.time import format_in_zone, in_zone
from vein2vein.manufacturing.models import Batch

pytestmark = pytest.mark.django_db


def _page(user, url: str) -> str:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    response = c.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _label(value: dt.datetime, zone: str) -> str:
    return f"{in_zone(value, zone):%Y-%m-%d %H:%M %Z}"


def test_batch_list_shows_the_start_in_the_site_zone(mfg: Mfg, batch: Batch) -> None:
    zone = batch.site.time_zone
    assert zone == "America/New_York"
    page = _page(mfg.operator, reverse("manufacturing:batch_list"))
    row = page[page.index('data-testid="batch-row"') :]
    row = row[: row.index("</tr>")]
    assert _label(batch.started_at, zone) in row  # EST or EDT, never "UTC"
    assert "UTC</td>" not in row and not re.search(r"\d\d:\d\d UTC", row)
    assert f'title="{format_in_zone(batch.started_at, zone)}"' in row


def test_review_page_labels_refused_attempts_with_the_site_zone(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="vector")
    c = Client()
    c.force_login(mfg.operator)
    url = reverse("manufacturing:step_record", args=[batch.pk, "vector"])
    c.post(url, {"scan": "LOT-R1"})  # the wrong part: a refused attempt the review lists
    from vein2vein.core.models import AuditEvent

    event = AuditEvent.objects.filter(record_id=str(batch.pk), action__endswith=".blocked").latest(
        "seq"
    )
    page = _page(mfg.w.inspector, reverse("manufacturing:batch_review", args=[batch.pk]))
    blocked = page[page.index('data-testid="exception-blocked"') :]
    blocked = blocked[: blocked.index("</li>")]
    zone = batch.site.time_zone
    assert _label(event.occurred_at, zone) in blocked
    assert not re.search(r"\d\d:\d\d UTC", blocked)


def test_dashboard_panel_labels_completion_with_the_site_zone(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch)
    from vein2vein.manufacturing import services

    services.complete_batch(actor=mfg.operator, batch_id=batch.pk)
    batch.refresh_from_db()
    page = _page(mfg.qa, "/")
    panel = page[page.index('data-testid="panel-review"') :]
    panel = panel[: panel.index("</ul>")]
    assert batch.number in panel
    assert _label(batch.completed_at, batch.site.time_zone) in panel
    assert not re.search(r"\d\d:\d\d UTC", panel)
