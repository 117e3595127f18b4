"""A bag received outside its product's temperature range is quarantined (issue 10): it is
here and its clock runs on, but it cannot go into manufacturing until QA dispositions the
receipt, accepting it with a reason and an e-signature or rejecting it (the order is then
rejected). Only QA, never the receiver; every disposition is audited and signed."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.chain.conftest import World, bag_label, refused
from tests.conftest import PASSWORD
from tests.core.factories import grant
from vein2vein.chain import services
from vein2vein.chain.models import CustodyEvent, Receipt, TherapyOrder
from vein2vein.core import services as core_services
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.errors import (
    Conflict,
    InterlockBlocked,
    PermissionRefused,
    SignatureRefused,
    ValidationFailed,
)
from vein2vein.core.models import AuditEvent, Signature, User
from vein2vein.core.signing import is_valid
from vein2vein.quality.models import Deviation

pytestmark = pytest.mark.django_db


def _receive(w: World, o: TherapyOrder, temperature: str = "12.5", **over: Any) -> Receipt:
    return services.receive_collection(
        actor=over.pop("actor", w.operator),
        order_id=o.pk,
        scans=bag_label(o),
        arrival_temperature_c=temperature,
        logger_serial="TL-7",
        logger_min_c=over.pop("logger_min_c", "4.0"),
        logger_max_c=over.pop("logger_max_c", "6.0"),
        **over,
    )


def _disposition(w: World, o: TherapyOrder, decision: str = "accepted", **over: Any) -> Receipt:
    values: dict[str, Any] = {
        "actor": w.qa_approver,
        "order_id": o.pk,
        "decision": decision,
        "reason": "Logger trace reviewed: 20 min above 8 °C; cells within spec (DEV assessed)",
        "password": PASSWORD,
    }
    values.update(over)
    return services.disposition_receipt(**values)


def _advance(w: World, o: TherapyOrder) -> TherapyOrder:
    return services.advance_order(
        actor=w.operator, order_id=o.pk, to_status="in_manufacturing", reason="batch started"
    )


# --- receipt -------------------------------------------------------------------------------------


def test_an_out_of_range_bag_is_received_into_quarantine(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    receipt = _receive(world, o, "12.5")
    o.refresh_from_db()
    assert o.status == "received"  # here, custody recorded, the clock still runs
    assert receipt.decision == "quarantine" and receipt.quarantined
    assert (str(receipt.arrival_temperature_c), receipt.temperature_ok) == ("12.5", False)
    (dev,) = Deviation.objects.filter(category="temperature")
    assert receipt.deviations == [dev.number]
    event = CustodyEvent.objects.get(order=o, seq=o.last_event_seq)
    assert event.kind == "received" and "Quarantined" in event.note and dev.number in event.note
    recorded = AuditEvent.objects.get(action="chain.receipt.recorded", record_id=str(receipt.pk))
    assert recorded.changes["decision"]["new"] == "quarantine"
    assert recorded.changes["arrival_temperature_c"]["new"] == "12.5"
    assert verify_chain().ok


def test_a_cold_logger_minimum_also_quarantines(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    receipt = _receive(world, walk("in_transit"), "5.0", logger_min_c="-1.0")
    assert receipt.decision == "quarantine"


def test_an_in_range_bag_is_still_accepted_and_can_go_into_manufacturing(
    world: World, walk
) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    receipt = _receive(world, o, "5.0")
    assert (receipt.decision, receipt.temperature_ok, receipt.quarantined) == (
        "accepted",
        True,
        False,
    )
    assert _advance(world, o).status == "in_manufacturing"


def test_the_operator_cannot_choose_quarantine_or_skip_it(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    with refused(ValidationFailed, field="decision", message="must be one of"):
        _receive(world, o, "5.0", decision="quarantine")
    # A rejection at goods-in stays a rejection, warm or not.
    receipt = _receive(world, o, "12.5", decision="rejected", rejection_reason="Bag warm")
    o.refresh_from_db()
    assert (receipt.decision, o.status) == ("rejected", "rejected")


# --- the interlock -------------------------------------------------------------------------------


def test_quarantined_material_cannot_go_into_manufacturing(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    _receive(world, o)
    with pytest.raises(InterlockBlocked) as caught:
        _advance(world, o)
    assert caught.value.field == "order_id" and caught.value.status_code == 409
    assert "quarantined" in caught.value.message and "QA must disposition" in caught.value.message
    o.refresh_from_db()
    assert o.status == "received" and o.manufacturing_started_at is None
    assert AuditEvent.objects.filter(
        action="chain.order.advanced.blocked", record_id=str(o.pk)
    ).exists()


# --- QA disposition ------------------------------------------------------------------------------


def test_qa_accepts_with_a_reason_and_signature_and_the_material_proceeds(
    world: World, walk
) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    _receive(world, o)
    receipt = _disposition(world, o, "accepted")
    assert (receipt.decision, receipt.disposition_by, receipt.quarantined) == (
        "accepted",
        world.qa_approver,
        False,
    )
    assert receipt.disposition_at is not None and "Logger trace" in receipt.disposition_reason
    assert receipt.temperature_ok is False and receipt.deviations  # the evidence stays
    sig = Signature.objects.get(record_type="chain.receipt", record_id=str(receipt.pk))
    assert (sig.meaning, sig.signer) == ("approved", world.qa_approver)
    assert is_valid(sig, receipt)
    event = AuditEvent.objects.get(action="chain.receipt.disposition_accepted")
    assert event.changes["decision"] == {"old": "quarantine", "new": "accepted"}
    assert event.reason == receipt.disposition_reason
    o.refresh_from_db()
    assert o.status == "received"
    assert _advance(world, o).status == "in_manufacturing"
    # The signature still covers the receipt after the order moved on.
    assert is_valid(sig, Receipt.objects.get(pk=receipt.pk))
    assert verify_chain().ok


def test_qa_rejects_and_the_order_is_rejected(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    _receive(world, o)
    receipt = _disposition(world, o, "rejected", reason="Logger shows 3 h above 8 °C")
    o.refresh_from_db()
    assert (receipt.decision, receipt.rejection_reason, o.status) == (
        "rejected",
        "Logger shows 3 h above 8 °C",
        "rejected",
    )
    event = CustodyEvent.objects.get(order=o, seq=o.last_event_seq)
    assert (event.kind, event.status_after) == ("receipt_rejected", "rejected")
    assert "QA rejected" in event.note
    sig = Signature.objects.get(record_type="chain.receipt", record_id=str(receipt.pk))
    assert sig.meaning == "rejected"
    assert AuditEvent.objects.filter(action="chain.order.rejected", record_id=str(o.pk)).exists()
    with pytest.raises(Conflict):
        _advance(world, o)
    assert verify_chain().ok


@pytest.mark.parametrize("who", ["operator", "supervisor", "qc", "logistics", "inspector"])
def test_only_qa_dispositions(world: World, walk, who: str) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    _receive(world, o)
    with refused(PermissionRefused, field=None, message="chain.receipt.disposition"):
        _disposition(world, o, actor=getattr(world, who))
    assert Receipt.objects.get(order=o).decision == "quarantine"


def test_the_receiver_cannot_disposition_their_own_receipt(world: World, walk, make_user) -> None:  # type: ignore[no-untyped-def]
    both: User = make_user(Role.OPERATOR, world.mfg, username="opqa", full_name="Both Hats")
    grant(both, Role.QA_APPROVER, world.mfg)
    o = walk("in_transit")
    _receive(world, o, actor=both)
    with refused(SignatureRefused, field="meaning", message="second person"):
        _disposition(world, o, actor=both)
    assert Receipt.objects.get(order=o).decision == "quarantine"


def test_a_disposition_needs_reason_password_and_a_quarantined_receipt(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    _receive(world, o)
    with refused(ValidationFailed, field="reason", message="is required"):
        _disposition(world, o, reason=" ")
    with refused(ValidationFailed, field="decision", message="must be one of"):
        _disposition(world, o, decision="quarantine")
    before = Receipt.objects.get(order=o).decision
    with pytest.raises(SignatureRefused) as caught:
        _disposition(world, o, password="wrong")
    assert caught.value.field == "password"
    assert Receipt.objects.get(order=o).decision == before == "quarantine"
    assert not Signature.objects.filter(record_type="chain.receipt").exists()
    _disposition(world, o)
    with refused(Conflict, field="order_id", message="not quarantined"):
        _disposition(world, o)
    other = services.enroll_patient(
        actor=world.clinician,
        site_id=world.clinic.pk,
        site_patient_id="LUH-000777",
        given_name="Ada",
        family_name="Lind",
        date_of_birth="1990-02-03",
        weight_kg="60",
        diagnosis="Multiple myeloma",
        consent_status="consented",
        consent_date="2026-02-01",
    )
    fine = walk("in_transit", patient=other)
    _receive(world, fine, "5.0")
    with refused(Conflict, field="order_id", message="not quarantined"):
        _disposition(world, fine)


# --- API -----------------------------------------------------------------------------------------


def _api(user: User, method: str, url: str, body: Any = None) -> Any:
    _row, raw = core_services.create_api_token(actor=user, user=user, name="test")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    client = Client()
    if method == "get":
        return client.get("/api/v1/chain" + url, **headers)
    return client.post(
        "/api/v1/chain" + url, json.dumps(body or {}), content_type="application/json", **headers
    )


def test_api_receive_quarantines_and_qa_dispositions(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    received = _api(
        world.operator,
        "post",
        f"/orders/{o.pk}/receive",
        {"scans": bag_label(o), "arrival_temperature_c": "12.5"},
    )
    assert received.status_code == 201, received.content
    assert (received.json()["decision"], received.json()["quarantined"]) == ("quarantine", True)
    url = f"/orders/{o.pk}/receipt/disposition"
    body = {"decision": "accepted", "reason": "Assessed under DEV", "password": PASSWORD}
    refused_op = _api(world.operator, "post", url, body)
    assert refused_op.status_code == 403
    bad = _api(world.qa_approver, "post", url, {**body, "decision": "maybe"})
    assert bad.status_code == 400 and bad.json()["field"] == "decision"
    done = _api(world.qa_approver, "post", url, body)
    assert done.status_code == 200, done.content
    got = done.json()
    assert (got["decision"], got["quarantined"], got["disposition_by"]) == (
        "accepted",
        False,
        "qaa",
    )
    again = _api(world.qa_approver, "post", url, body)
    assert again.status_code == 409 and again.json()["field"] == "order_id"


# --- pages ---------------------------------------------------------------------------------------


def _client(user: User) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_goods_in_page_warns_in_amber_and_qa_dispositions_on_the_order_page(
    world: World, walk
) -> None:  # type: ignore[no-untyped-def]
    o = walk("in_transit")
    op = _client(world.operator)
    form = {
        "scans": "\n".join(bag_label(o)),
        "arrival_temperature_c": "12.5",
        "logger_serial": "",
        "logger_min_c": "",
        "logger_max_c": "",
        "logger_summary": "",
        "rejection_reason": "",
        "decision": "accepted",
    }
    posted = op.post(reverse("chain:order_receive", args=[o.pk]), form, follow=True)
    page = posted.content.decode()
    assert 'class="flash warning"' in page and "QUARANTINE" in page
    assert 'class="flash success"' not in page and "Bag accepted" not in page
    assert 'data-testid="quarantine"' in page
    assert re.search(r'badge warn" data-testid="receipt-decision">Quarantined', page)
    assert 'data-testid="action-disposition"' not in page  # the operator is not QA
    disposition_url = reverse("chain:receipt_disposition", args=[o.pk])
    assert op.get(disposition_url).status_code == 403

    qa = _client(world.qa_approver)
    detail = qa.get(reverse("chain:order_detail", args=[o.pk])).content.decode()
    assert 'data-testid="action-disposition"' in detail
    wrong = qa.post(disposition_url, {"decision": "accepted", "reason": "ok", "password": "nope"})
    assert wrong.status_code == 403 and "password is incorrect" in wrong.content.decode()
    done = qa.post(
        disposition_url,
        {"decision": "accepted", "reason": "Assessed", "password": PASSWORD},
        follow=True,
    )
    page = done.content.decode()
    assert "Quarantine released by QA" in page and 'data-testid="quarantine"' not in page
    assert "Amara Approver" in page
    assert qa.get(disposition_url).status_code == 404  # nothing left to disposition
