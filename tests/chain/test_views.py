"""Chain pages: each renders for the roles that may see it and refuses the others; forms call
the services and a refusal comes back on the form with its 4xx status and writes nothing;
personal data reaches the clinical users only; the slot calendar shows a full day disabled;
the vein-to-vein page lists a 12-event custody chain in order with elapsed times."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from tests.chain.conftest import World, bag_label
from tests.core.helpers import nothing_written
from vein2vein.chain import services
from vein2vein.chain.models import (
    Collection,
    CustodyEvent,
    Patient,
    Receipt,
    SlotBooking,
    SlotCapacity,
    TherapyOrder,
    TherapyProduct,
)
from vein2vein.chain.views import elapsed
from vein2vein.core.audit import verify_chain
from vein2vein.core.models import AuditEvent
from vein2vein.quality.models import Deviation

pytestmark = pytest.mark.django_db

EVERYONE = ("clinician", "collector", "operator", "supervisor", "logistics", "qc", "qa_approver")
EVERYONE_AND_INSPECTOR = (*EVERYONE, "inspector")
NAME, GIVEN, DOB, SITE_ID = "Garcia", "Maria", "1971-03-14", "LUH-000123"


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def html(response: Any) -> str:
    return response.content.decode()


def enroll(w: World, site_patient_id: str, family_name: str, born: str = "1980-01-01") -> Patient:
    return services.enroll_patient(
        actor=w.clinician,
        site_id=w.clinic.pk,
        site_patient_id=site_patient_id,
        given_name="Pat",
        family_name=family_name,
        date_of_birth=born,
        weight_kg="70",
        diagnosis="DLBCL",
        consent_status="consented",
        consent_date="2026-01-02",
    )


# --- who may see which page ---------------------------------------------------------------------


def _pages(o: TherapyOrder, w: World) -> dict[str, tuple[str, tuple[str, ...]]]:
    """url name -> (url, the roles that get 200); everyone else in the world gets 403."""
    pid = w.patient.pk
    return {
        "order_list": (reverse("chain:order_list"), EVERYONE_AND_INSPECTOR),
        "order_detail": (reverse("chain:order_detail", args=[o.pk]), EVERYONE_AND_INSPECTOR),
        "order_label": (reverse("chain:order_label", args=[o.pk]), EVERYONE_AND_INSPECTOR),
        "order_instructions": (
            reverse("chain:order_instructions", args=[o.pk]),
            EVERYONE_AND_INSPECTOR,
        ),
        "capacity_calendar": (reverse("chain:capacity_calendar"), EVERYONE_AND_INSPECTOR),
        "product_list": (reverse("chain:product_list"), EVERYONE_AND_INSPECTOR),
        "product_create": (reverse("chain:product_create"), ("supervisor", "qa_approver")),
        "product_edit": (
            reverse("chain:product_edit", args=[w.product.pk]),
            ("supervisor", "qa_approver"),
        ),
        "patient_list": (reverse("chain:patient_list"), ("clinician", "collector")),
        "patient_create": (reverse("chain:patient_create"), ("clinician", "collector")),
        # The collector is clinical at the apheresis center: the clinic's patient is not found.
        "patient_detail": (reverse("chain:patient_detail", args=[pid]), ("clinician",)),
        "patient_correct": (reverse("chain:patient_correct", args=[pid]), ("clinician",)),
        "order_create": (reverse("chain:order_create"), ("clinician", "collector")),
        "order_book": (
            reverse("chain:order_book", args=[o.pk]),
            ("clinician", "collector", "supervisor", "logistics"),
        ),
        "order_collect": (reverse("chain:order_collect", args=[o.pk]), ("clinician", "collector")),
        "order_handoff": (
            reverse("chain:order_handoff", args=[o.pk]),
            ("clinician", "collector", "operator", "supervisor", "logistics", "qc"),
        ),
        "goods_in": (reverse("chain:goods_in"), ("operator", "supervisor", "logistics")),
        "order_receive": (
            reverse("chain:order_receive", args=[o.pk]),
            ("operator", "supervisor", "logistics"),
        ),
        "order_cancel": (
            reverse("chain:order_cancel", args=[o.pk]),
            ("clinician", "collector", "supervisor"),
        ),
    }


@pytest.mark.parametrize(
    "page",
    [
        "order_list",
        "order_detail",
        "order_label",
        "order_instructions",
        "capacity_calendar",
        "product_list",
        "product_create",
        "product_edit",
        "patient_list",
        "patient_create",
        "patient_detail",
        "patient_correct",
        "order_create",
        "order_book",
        "order_collect",
        "order_handoff",
        "goods_in",
        "order_receive",
        "order_cancel",
    ],
)
def test_each_page_renders_for_its_roles_and_refuses_the_others(world, walk, page) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    url, allowed = _pages(o, world)[page]
    not_found = {"collector"} if page in ("patient_detail", "patient_correct") else set()
    for who in EVERYONE_AND_INSPECTOR:
        response = client_for(getattr(world, who)).get(url)
        if who in allowed:
            assert response.status_code == 200, (who, url, response.status_code)
        elif who in not_found:
            assert response.status_code == 404, (who, url, response.status_code)
        else:
            assert response.status_code == 403, (who, url, response.status_code)
            assert "Not allowed" in html(response)


def test_anonymous_users_go_to_the_login_page(world) -> None:  # type: ignore[no-untyped-def]
    response = Client().get(reverse("chain:order_list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_order_of_other_sites_is_not_found(world, walk, make_site, make_user) -> None:  # type: ignore[no-untyped-def]
    o = walk("collected")
    other = make_site(code="MFG-Z", kind="manufacturing", fin="Z9999")
    stranger = make_user("operator", other, username="stranger")
    c = client_for(stranger)
    assert c.get(reverse("chain:order_detail", args=[o.pk])).status_code == 404
    assert c.get(reverse("chain:order_label", args=[o.pk])).status_code == 404
    assert c.get(reverse("chain:order_receive", args=[o.pk])).status_code == 404
    assert o.coi not in html(c.get(reverse("chain:order_list")))
    # The collector's site is APH-D: the clinic's patient page is not theirs.
    collector = client_for(world.collector)
    assert (
        collector.get(reverse("chain:patient_detail", args=[world.patient.pk])).status_code == 404
    )


def test_the_dashboard_panel(world, walk, make_user) -> None:  # type: ignore[no-untyped-def]
    moving = walk("in_transit")
    waiting = walk("ordered", patient=enroll(world, "LUH-000200", "Okafor"))
    operator = html(client_for(world.operator).get("/"))
    assert 'data-testid="chain-panel"' in operator
    panel = operator[operator.index('data-testid="panel-awaiting"') :]
    assert moving.coi_eye_readable in panel and re.search(r"\d+\.\d h left", panel)
    assert waiting.coi_eye_readable not in operator  # booking is the clinic's job
    clinician = html(client_for(world.clinician).get("/"))
    need = clinician[clinician.index('data-testid="panel-need-slot"') :]
    assert waiting.coi_eye_readable in need
    assert reverse("chain:order_book", args=[waiting.pk]) in need
    nobody = make_user(None, username="norole")
    assert 'data-testid="chain-panel"' not in html(client_for(nobody).get("/"))


# --- personal data ------------------------------------------------------------------------------


def test_only_the_clinical_users_see_the_patients_name(world, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("received")
    pages = [
        reverse("chain:order_list"),
        reverse("chain:order_detail", args=[o.pk]),
        reverse("chain:order_label", args=[o.pk]),
    ]
    for who in ("clinician", "collector"):
        c = client_for(getattr(world, who))
        for url in pages:
            page = html(c.get(url))
            assert NAME.upper() in page.upper() and GIVEN in page, (who, url)
        label = html(c.get(pages[2]))
        assert DOB in label and "=#0019710314" in label
    for who in ("operator", "qc", "inspector", "supervisor", "qa_approver", "logistics"):
        c = client_for(getattr(world, who))
        for url in [*pages, reverse("chain:order_instructions", args=[o.pk])]:
            response = c.get(url)
            assert response.status_code == 200
            page = html(response)
            for secret in (NAME, GIVEN, DOB, "19710314", SITE_ID):
                assert secret.upper() not in page.upper(), (who, url, secret)
            assert o.coi_eye_readable in page
        label = html(c.get(pages[2]))
        assert "=#00********" in label
        assert f"={o.collection.din}00" in label and f"&amp;/{o.coi}" in label


# --- orders list and COI search ------------------------------------------------------------------


def test_the_order_list_filters_and_a_scanned_coi_opens_its_order(world, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    other = walk("ordered", patient=enroll(world, "LUH-000300", "Novak"))
    c = client_for(world.operator)
    listing = c.get(reverse("chain:order_list"))
    assert o.coi_eye_readable in html(listing) and other.coi_eye_readable in html(listing)
    booked = html(c.get(reverse("chain:order_list"), {"status": "scheduled"}))
    assert o.coi_eye_readable in booked and other.coi_eye_readable not in booked
    detail = reverse("chain:order_detail", args=[o.pk])
    for scan in (f"&/{o.coi}", o.coi, f"{o.coi}{o.coi_check_character}", o.coi_eye_readable):
        response = c.get(reverse("chain:order_list"), {"q": scan})
        assert response.status_code == 302 and response["Location"] == detail, scan
    wrong = "A" if o.coi_check_character != "A" else "B"
    bad = c.get(reverse("chain:order_list"), {"q": o.coi + wrong})
    assert bad.status_code == 400 and "check character" in html(bad)
    assert c.get(reverse("chain:order_list"), {"status": "lost"}).status_code == 400
    part = html(c.get(reverse("chain:order_list"), {"q": other.coi[-6:]}))
    assert other.coi_eye_readable in part and o.coi_eye_readable not in part


def test_the_page_and_the_api_filter_the_same_orders_and_patients(world, walk) -> None:  # type: ignore[no-untyped-def]
    """chain/filters.py is read by both: the same filters, the same rows."""
    from tests.core.test_api import bearer

    o = walk("scheduled")
    other = walk("ordered", patient=enroll(world, "LUH-000300", "Novak"))
    c = client_for(world.operator)
    headers = bearer(world.operator)
    for query in ({"status": "scheduled"}, {"status": "ordered"}, {"coi": o.coi_eye_readable}):
        page = html(c.get(reverse("chain:order_list"), query))
        on_page = {x.coi for x in (o, other) if x.coi_eye_readable in page}
        api = c.get("/api/v1/chain/orders", query, **headers)
        assert api.status_code == 200
        assert on_page == {row["coi"] for row in api.json()}, query
    assert c.get(reverse("chain:order_list"), {"status": "lost"}).status_code == 400
    assert c.get("/api/v1/chain/orders", {"status": "lost"}, **headers).status_code == 422
    clinician = client_for(world.clinician)
    headers = bearer(world.clinician)
    page = html(clinician.get(reverse("chain:patient_list"), {"q": "LUH-000300"}))
    api = clinician.get("/api/v1/chain/patients", {"site_patient_id": "LUH-000300"}, **headers)
    assert "LUH-000300" in page and [p["site_patient_id"] for p in api.json()] == ["LUH-000300"]
    refused = clinician.get("/api/v1/chain/patients", {"site_patient_id": "x" * 41}, **headers)
    assert refused.status_code == 422
    assert clinician.get(reverse("chain:patient_list"), {"q": "x" * 101}).status_code == 400


# --- the slot calendar ------------------------------------------------------------------------


def _slot(page: str, day: dt.date) -> str:
    start = page.index(f'data-testid="slot-{day:%Y-%m-%d}"')
    return page[start : page.index("</label>", start)]


def test_the_calendar_shows_a_full_day_disabled(world, walk) -> None:  # type: ignore[no-untyped-def]
    full_day = world.today() + dt.timedelta(days=3)
    closed_day = world.today() + dt.timedelta(days=4)
    for n in (1, 2):
        filler = walk("ordered", patient=enroll(world, f"LUH-00090{n}", f"Filler{n}"))
        services.book_slot(actor=world.clinician, order_id=filler.pk, day=full_day)
    services.set_capacity(
        actor=world.supervisor, site_id=world.mfg.pk, start=closed_day, end=closed_day, capacity=0
    )
    o = walk("ordered")
    c = client_for(world.clinician)
    page = html(c.get(reverse("chain:order_book", args=[o.pk])))
    assert "disabled" in _slot(page, full_day) and "full (2 of 2 booked)" in _slot(page, full_day)
    assert "disabled" in _slot(page, closed_day) and "closed" in _slot(page, closed_day)
    free = _slot(page, world.today() + dt.timedelta(days=5))
    assert "disabled" not in free and "2 of 2 free" in free
    calendar = html(c.get(reverse("chain:capacity_calendar"), {"site": world.mfg.pk}))
    assert "full (2 of 2 booked)" in _slot(calendar, full_day)
    assert 'data-testid="capacity-form"' not in calendar  # the clinic does not set capacity

    # A forged POST of the full day is refused by the service, on the page, with its 409.
    with nothing_written(SlotBooking, TherapyOrder, SlotCapacity):
        refused = c.post(
            reverse("chain:order_book", args=[o.pk]), {"action": "book", "day": full_day}
        )
    assert refused.status_code == 409
    assert f"MFG-B is full on {full_day}: 2 of 2 slots booked" in html(refused)

    booked = c.post(
        reverse("chain:order_book", args=[o.pk]),
        {"action": "book", "day": world.today() + dt.timedelta(days=5)},
    )
    assert booked.status_code == 302
    o.refresh_from_db()
    assert o.status == "scheduled"


def test_reschedule_and_cancel_the_booking(world, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    c = client_for(world.logistics)
    url = reverse("chain:order_book", args=[o.pk])
    later = world.today() + dt.timedelta(days=6)
    page = html(c.get(url))
    assert 'data-testid="reschedule-form"' in page and "this order" in _slot(page, world.today())
    with nothing_written(SlotBooking, TherapyOrder):
        no_reason = c.post(url, {"action": "reschedule", "day": later, "reason": ""})
    assert no_reason.status_code == 400 and "This field is required" in html(no_reason)
    assert c.post(url, {"action": "reschedule", "day": later, "reason": "bed"}).status_code == 302
    assert SlotBooking.objects.get(order=o, status="booked").day == later
    assert c.post(url, {"action": "cancel", "cancel-reason": "patient unwell"}).status_code == 302
    o.refresh_from_db()
    assert o.status == "ordered"
    assert c.post(url, {"action": "teleport"}).status_code == 400


def test_the_supervisor_sets_capacity(world) -> None:  # type: ignore[no-untyped-def]
    url = reverse("chain:capacity_calendar") + f"?site={world.mfg.pk}"
    day = world.today() + dt.timedelta(days=2)
    form = {"start": day, "end": day, "capacity": "5", "reason": "extra shift"}
    page = html(client_for(world.supervisor).get(url))
    assert 'data-testid="capacity-form"' in page
    with nothing_written(SlotCapacity):
        assert client_for(world.operator).post(url, form).status_code == 403
    assert client_for(world.supervisor).post(url, form).status_code == 302
    assert SlotCapacity.objects.get(site=world.mfg, day=day).capacity == 5
    past = form | {"start": world.today() - dt.timedelta(days=3)}
    with nothing_written(SlotCapacity):
        refused = client_for(world.supervisor).post(url, past)
    assert refused.status_code == 400 and "is in the past" in html(refused)


# --- orders, patients, products through the pages -----------------------------------------------


def test_enroll_correct_and_order_through_the_pages(world) -> None:  # type: ignore[no-untyped-def]
    c = client_for(world.clinician)
    form = {
        "site": world.clinic.pk,
        "site_patient_id": "LUH-000777",
        "given_name": "Ines",
        "family_name": "Lindqvist",
        "date_of_birth": "1966-05-01",
        "weight_kg": "61.5",
        "diagnosis": "Follicular lymphoma",
        "consent_status": "consented",
        "consent_date": "2026-01-05",
    }
    with nothing_written(Patient):
        duplicate = c.post(reverse("chain:patient_create"), form | {"site_patient_id": SITE_ID})
    assert duplicate.status_code == 409 and "already has a patient LUH-000123" in html(duplicate)
    assert c.post(reverse("chain:patient_create"), form).status_code == 302
    p = Patient.objects.get(site_patient_id="LUH-000777")
    correct = reverse("chain:patient_correct", args=[p.pk])
    with nothing_written(Patient):
        no_reason = c.post(correct, form | {"weight_kg": "60.0", "reason": ""})
    assert no_reason.status_code == 400
    assert c.post(correct, form | {"weight_kg": "60.0", "reason": "re-weighed"}).status_code == 302
    p.refresh_from_db()
    assert str(p.weight_kg) == "60.0"
    detail = html(c.get(reverse("chain:patient_detail", args=[p.pk])))
    assert "re-weighed" in detail and "Lindqvist" in detail

    order = {
        "patient": p.pk,
        "product": world.product.pk,
        "treating_physician": "Dr. Rivera",
        "requested_collection_date": world.today(world.clinic) + dt.timedelta(days=7),
        "collection_site": world.apheresis.pk,
        "manufacturing_site": world.mfg.pk,
    }
    with nothing_written(TherapyOrder):
        past = c.post(
            reverse("chain:order_create"),
            order | {"requested_collection_date": world.today(world.clinic) - dt.timedelta(days=2)},
        )
    assert past.status_code == 400 and "is in the past" in html(past)
    with nothing_written(TherapyOrder):
        wrong_site = c.post(
            reverse("chain:order_create"), order | {"manufacturing_site": world.clinic.pk}
        )
    assert wrong_site.status_code == 400  # the clinic is not offered as a manufacturing site
    created = c.post(reverse("chain:order_create"), order)
    o = TherapyOrder.objects.get(patient=p)
    assert created.status_code == 302 and created["Location"] == reverse(
        "chain:order_detail", args=[o.pk]
    )
    assert o.coi.startswith("CHB2345")


def test_products_through_the_pages(world) -> None:  # type: ignore[no-untyped-def]
    c = client_for(world.qa_approver)
    form = {
        "code": "BCMA-CART",
        "name": "Autologous anti-BCMA CAR-T",
        "isbt_description_code": "S1235",
        "autologous": "on",
        "max_hours_to_manufacture": "72",
        "fresh_min_c": "2",
        "fresh_max_c": "8",
    }
    with nothing_written(TherapyProduct):
        inverted = c.post(reverse("chain:product_create"), form | {"fresh_min_c": "9"})
    assert inverted.status_code == 400 and "must be below fresh_max_c" in html(inverted)
    assert c.post(reverse("chain:product_create"), form).status_code == 302
    product = TherapyProduct.objects.get(code="BCMA-CART")
    edit = reverse("chain:product_edit", args=[product.pk])
    changed = form | {"max_hours_to_manufacture": "60", "is_active": "on", "reason": "stability"}
    assert c.post(edit, changed).status_code == 302
    product.refresh_from_db()
    assert product.max_hours_to_manufacture == 60
    with nothing_written(TherapyProduct):
        same = c.post(edit, changed)
    assert same.status_code == 400 and "nothing to change" in html(same)
    assert "BCMA-CART" in html(client_for(world.operator).get(reverse("chain:product_list")))


def test_cancel_an_order(world, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    url = reverse("chain:order_cancel", args=[o.pk])
    with nothing_written(TherapyOrder, SlotBooking):
        assert client_for(world.clinician).post(url, {"reason": ""}).status_code == 400
    assert client_for(world.clinician).post(url, {"reason": "patient withdrew"}).status_code == 302
    o.refresh_from_db()
    assert o.status == "cancelled"
    page = html(client_for(world.clinician).get(reverse("chain:order_detail", args=[o.pk])))
    assert "patient withdrew" in page and 'data-testid="action-cancel"' not in page


# --- collection, handoff, receipt ----------------------------------------------------------------


def test_record_the_collection_in_the_collection_sites_zone(world, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    chicago = ZoneInfo("America/Chicago")
    end = (dt.datetime.now(chicago) - dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    start = end - dt.timedelta(hours=3)
    form = {
        "started_at": f"{start:%Y-%m-%dT%H:%M}",
        "ended_at": f"{end:%Y-%m-%dT%H:%M}",
        "volume_ml": "240",
        "anticoagulant": "ACD-A",
        "wbc_10e9_per_l": "11.2",
        "cd3_10e9_per_l": "",
        "din": "",
        "sec": "",
    }
    url = reverse("chain:order_collect", args=[o.pk])
    # The clinician holds the clinical role at the clinic, not at the apheresis center.
    with nothing_written(Collection, CustodyEvent, TherapyOrder):
        refused = client_for(world.clinician).post(url, form)
    assert refused.status_code == 403 and "APH-D" in html(refused)
    with nothing_written(Collection, CustodyEvent, TherapyOrder):
        backwards = client_for(world.collector).post(url, form | {"ended_at": form["started_at"]})
    assert backwards.status_code == 400 and "ended_at must be after started_at" in html(backwards)
    done = client_for(world.collector).post(url, form)
    assert done.status_code == 302
    collection = Collection.objects.get(order=o)
    assert collection.ended_at == end.astimezone(dt.UTC)
    assert collection.time_zone == "America/Chicago"
    o.refresh_from_db()
    assert o.status == "collected"
    assert o.stability_deadline == collection.ended_at + dt.timedelta(hours=48)
    page = html(client_for(world.operator).get(reverse("chain:order_detail", args=[o.pk])))
    assert f"{end:%Y-%m-%d %H:%M} C" in page  # CST or CDT, the wall clock in Chicago
    assert collection.din_eye_readable in page


def test_a_nonexistent_local_time_is_refused(world, walk) -> None:  # type: ignore[no-untyped-def]
    from vein2vein.chain.forms import CollectionForm

    form = CollectionForm(
        {
            "started_at": "2026-03-08T02:30",  # skipped in Chicago: clocks go 2:00 -> 3:00
            "ended_at": "2026-03-08T05:00",
            "volume_ml": "200",
            "anticoagulant": "ACD-A",
        },
        zone="America/Chicago",
    )
    assert not form.is_valid()
    assert "does not exist in America/Chicago" in str(form.errors["started_at"])


def test_hand_off_through_the_page(world, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("collected")
    url = reverse("chain:order_handoff", args=[o.pk])
    c = client_for(world.collector)
    page = html(c.get(url))
    assert re.search(r'name="scanned_text"[^>]*autofocus', page)
    form = {
        "scanned_text": o.coi,
        "to_custodian": "World Courier (J. Smith)",
        "to_location": "Courier van",
        "temperature_c": "4.5",
        "to_status": "in_transit",
        "note": "",
    }
    with nothing_written(CustodyEvent, TherapyOrder):
        refused = client_for(world.qa_approver).post(url, form)
    assert refused.status_code == 403
    assert c.post(url, form).status_code == 302
    o.refresh_from_db()
    assert o.status == "in_transit" and o.current_custodian == "World Courier (J. Smith)"
    other = walk("ordered", patient=enroll(world, "LUH-000400", "Other"))
    wrong = c.post(url, form | {"scanned_text": other.coi, "to_status": ""})
    assert wrong.status_code == 409
    page = html(wrong)
    assert 'data-testid="refusal"' in page and "another patient" in page
    assert re.search(r"deviation DEV-\S+ raised", page)
    assert CustodyEvent.objects.filter(order=o).count() == 2


def _receive_form(scans: str, **extra: str) -> dict[str, str]:
    return {
        "scans": scans,
        "arrival_temperature_c": "5.0",
        "logger_serial": "TL-1",
        "logger_min_c": "3.1",
        "logger_max_c": "6.2",
        "logger_summary": "",
        "rejection_reason": "",
        "decision": "accepted",
        **extra,
    }


def test_receive_refuses_another_patients_bag_in_red_then_accepts(world, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    other = walk("collected", patient=enroll(world, "LUH-000500", "Other"))
    url = reverse("chain:order_receive", args=[o.pk])
    c = client_for(world.operator)
    page = html(c.get(url))
    assert re.search(r"<textarea[^>]*autofocus", page)

    wrong = c.post(url, _receive_form("\r\n".join(bag_label(other))))
    assert wrong.status_code == 409
    page = html(wrong)
    refusal = page[page.index('data-testid="refusal"') :]
    assert "flash error" in page and "not this order" in refusal
    deviation = Deviation.objects.get(category="identity")
    assert f"deviation {deviation.number} raised" in refusal
    assert re.search(r'data-testid="scan-field">\s*</textarea>', page)  # emptied for a rescan
    # The refusal itself is recorded (the blocked attempt and the deviation); nothing else.
    assert AuditEvent.objects.filter(action="chain.receipt.blocked").count() == 1
    assert not Receipt.objects.exists()
    o.refresh_from_db()
    assert o.status == "in_transit" and o.last_event_seq == 2

    din, coi, _dob = bag_label(o)
    with nothing_written(Receipt, CustodyEvent, TherapyOrder, Deviation):
        missing = c.post(url, _receive_form(f"{din}\n{coi}\n"))
    assert missing.status_code == 400 and "patient date of birth too" in html(missing)
    assert escape(coi) in html(missing)  # what was scanned so far stays

    with nothing_written(Receipt, CustodyEvent, TherapyOrder, Deviation):
        no_reason = c.post(url, _receive_form("\n".join(bag_label(o)), decision="rejected"))
    assert no_reason.status_code == 400 and "rejection_reason is required" in html(no_reason)

    accepted = c.post(url, _receive_form("\r\n".join(bag_label(o)) + "\r\n"))
    assert accepted.status_code == 302
    o.refresh_from_db()
    assert o.status == "received" and o.receipt.decision == "accepted"
    detail = html(c.get(accepted["Location"]))
    assert "Bag accepted at goods-in" in detail and "patient date of birth" in detail
    assert "=#00********" in detail  # the DOB scan is kept masked
    assert verify_chain().ok


def test_goods_in_lists_what_is_on_its_way(world, walk) -> None:  # type: ignore[no-untyped-def]
    moving = walk("in_transit")
    later = walk("ordered", patient=enroll(world, "LUH-000600", "Later"))
    page = html(client_for(world.operator).get(reverse("chain:goods_in")))
    assert moving.coi_eye_readable in page and later.coi_eye_readable not in page
    assert reverse("chain:order_receive", args=[moving.pk]) in page
    assert re.search(r"4\d\.\d h left", page)


# --- the vein-to-vein page ------------------------------------------------------------------------


class Clock:
    """A server clock the test moves forward (core.time.now reads django's timezone.now)."""

    def __init__(self, start: dt.datetime) -> None:
        self.at = start

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> dt.datetime:
        self.at += dt.timedelta(**delta)
        return self.at


@pytest.fixture
def clock(monkeypatch) -> Iterator[Clock]:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    c = Clock(timezone.now().replace(microsecond=0))
    monkeypatch.setattr(timezone, "now", c)
    yield c


def test_a_chain_of_twelve_events_in_order_with_elapsed_times(world, clock) -> None:  # type: ignore[no-untyped-def]
    w = world
    t0 = clock.at
    o = services.create_order(
        actor=w.clinician,
        patient_id=w.patient.pk,
        product_id=w.product.pk,
        treating_physician="Dr. Rivera",
        requested_collection_date=w.today(w.clinic),
        collection_site_id=w.apheresis.pk,
        manufacturing_site_id=w.mfg.pk,
    )
    services.book_slot(actor=w.clinician, order_id=o.pk, day=w.today())
    clock.advance(hours=3, minutes=20)  # recorded 20 min after the end: not a late entry
    services.record_collection(
        actor=w.collector,
        order_id=o.pk,
        started_at=t0,
        ended_at=t0 + dt.timedelta(hours=3),
        volume_ml="250",
        anticoagulant="ACD-A",
    )

    def hand(actor: Any, to: str, where: str, *, late_by: float = 0, **kw: Any) -> None:
        occurred = clock.at - dt.timedelta(hours=late_by) if late_by else None
        services.hand_off(
            actor=actor,
            order_id=o.pk,
            scanned_text=o.coi,
            to_custodian=to,
            to_location=where,
            temperature_c="4.0",
            occurred_at=occurred,
            **kw,
        )

    def stage(actor: Any, status: str) -> None:
        services.advance_order(actor=actor, order_id=o.pk, to_status=status)

    clock.advance(minutes=30)
    hand(w.collector, "World Courier (J. Smith)", "Courier van", to_status="in_transit")
    clock.advance(hours=6)  # recorded now, but it happened 2 h ago: a late entry
    hand(w.collector, "World Courier hub", "ORD cold room", late_by=2)
    clock.advance(hours=12)
    hand(w.logistics, "World Courier (A. Diaz)", "Courier van")
    clock.advance(hours=2)
    services.receive_collection(
        actor=w.operator, order_id=o.pk, scans=bag_label(o), arrival_temperature_c="5.0"
    )
    clock.advance(minutes=45)
    hand(w.operator, "Olivia Operator", "Cleanroom B, suite 2")
    clock.advance(minutes=15)
    stage(w.operator, "in_manufacturing")
    clock.advance(days=9)
    stage(w.qc, "in_qc")
    clock.advance(days=7)
    stage(w.qa_approver, "released")
    clock.advance(hours=20)
    hand(w.logistics, "Cryoport (K. Lee)", "Dry shipper CX-12", to_status="shipped")
    clock.advance(hours=18)
    hand(w.clinician, "CLIN-C cell therapy lab", "LN2 storage", to_status="delivered")
    clock.advance(days=1, hours=2)
    stage(w.clinician, "infused")

    o.refresh_from_db()
    assert o.last_event_seq == 12 and o.status == "infused"
    page = html(client_for(w.inspector).get(reverse("chain:order_detail", args=[o.pk])))
    rows = re.findall(r'data-testid="custody-row" data-seq="(\d+)"', page)
    assert rows == [str(n) for n in range(1, 13)]
    events = list(CustodyEvent.objects.filter(order=o).order_by("seq"))
    first = events[0].occurred_at
    for previous, event in zip([None, *events], events, strict=False):
        start = page.index(f'data-seq="{event.seq}"')
        row = page[start : page.index("</tr>", start)]
        since_start = elapsed(event.occurred_at - first)
        assert f'data-testid="since-start">{since_start}<' in row, (event.seq, row)
        if previous is not None:
            gap = elapsed(event.occurred_at - previous.occurred_at)
            assert f'data-testid="since-previous">{gap}<' in row, (event.seq, row)
        assert ('data-testid="late-entry"' in row) is (event.seq == 3)
    # Collection ended at 3 h, courier at 3 h 50, the hub (late entry) at 7 h 50.
    assert 'data-seq="2"' in page and 'data-testid="since-previous">50 min<' in page
    assert 'data-testid="since-previous">4 h 00 min<' in page
    total = elapsed(events[-1].occurred_at - first)
    assert total == "19 d 13 h 50 min" and f'data-testid="total-time">{total}<' in page
    assert "infusion — chain closed" in page
    assert "CLIN-C cell therapy lab" in page  # the current custodian
    # Times in the event site's zone and in UTC.
    assert f"{events[0].occurred_at.astimezone(ZoneInfo('America/Chicago')):%Y-%m-%d %H:%M %Z}" in (
        page
    )
    assert f"{events[0].occurred_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC" in page
    assert NAME not in page
    assert verify_chain().ok


def test_the_label_and_instructions(world, walk) -> None:  # type: ignore[no-untyped-def]
    ordered = walk("ordered")
    c = client_for(world.collector)
    assert c.get(reverse("chain:order_label", args=[ordered.pk])).status_code == 409
    instructions = html(c.get(reverse("chain:order_instructions", args=[ordered.pk])))
    assert "2.0 °C and 8.0 °C" in instructions and "48 hours" in instructions
    assert ordered.coi_eye_readable in instructions
    services.cancel_order(actor=world.clinician, order_id=ordered.pk, reason="test")
    o = walk("collected")
    label = html(c.get(reverse("chain:order_label", args=[o.pk])))
    din = o.collection
    assert "FOR AUTOLOGOUS USE ONLY" in label
    assert f'{din.din_eye_readable}<span class="check-box"' in label
    assert f">{din.din_check_character}</span>" in label
    assert f'{o.coi_eye_readable}<span class="check-box"' in label
    assert "labeling module" in label
    assert "GARCIA, Maria" in label


def test_action_links_follow_the_permissions(world, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("collected")

    def actions(who: str) -> set[str]:
        page = html(client_for(getattr(world, who)).get(reverse("chain:order_detail", args=[o.pk])))
        return set(re.findall(r'data-testid="action-(\w+)"', page))

    assert actions("operator") == {"label", "instructions", "handoff", "receive"}
    assert actions("collector") == {"label", "instructions", "handoff"}
    assert actions("clinician") == {"label", "instructions", "handoff", "cancel"}
    assert actions("inspector") == {"label", "instructions"}
    assert actions("qa_approver") == {"label", "instructions"}
