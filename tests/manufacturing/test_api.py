"""The manufacturing API under /api/v1/manufacturing, as its users call it: 401 without
credentials, 403 for the wrong role with nothing written, 404 for another site's batch, 4xx
naming the field for bad input, 409 with the reason for an interlock (and the attempt
recorded), and the test MBR run start to QA review entirely through the API."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.manufacturing.conftest import TEST_MBR, Mfg, blocked, run, unchanged
from vein2vein.chain.models import TherapyOrder
from vein2vein.core import services as core_services
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.models import Signature
from vein2vein.core.time import now
from vein2vein.manufacturing import mbr, services
from vein2vein.manufacturing.models import Batch, MasterRecord, StepEntry
from vein2vein.quality.models import Deviation

pytestmark = pytest.mark.django_db
BASE = "/api/v1/manufacturing"
_TOKENS: dict[int, dict[str, str]] = {}


@pytest.fixture(autouse=True)
def _fresh_tokens() -> Iterator[None]:
    _TOKENS.clear()
    yield
    _TOKENS.clear()


def bearer(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    if user.pk not in _TOKENS:
        _, raw = core_services.create_api_token(actor=user, user=user, name="test")
        _TOKENS[user.pk] = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    return _TOKENS[user.pk]


def call(user, method: str, url: str, body: Any = None):  # type: ignore[no-untyped-def]
    client = Client()
    headers = bearer(user) if user is not None else {}
    if method == "get":
        return client.get(BASE + url, body or {}, **headers)
    return getattr(client, method)(
        BASE + url, json.dumps(body or {}), content_type="application/json", **headers
    )


def step(mfg: Mfg, b: Batch | int, key: str, who=None, **body: Any):  # type: ignore[no-untyped-def]
    pk = b if isinstance(b, int) else b.pk
    return call(who or mfg.operator, "post", f"/batches/{pk}/steps/{key}", body)


# --- credentials --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/master-records"),
        ("post", "/master-records"),
        ("get", "/master-records/1"),
        ("get", "/master-records/1/yaml"),
        ("get", "/mbr-schema"),
        ("post", "/master-records/validate"),
        ("get", "/batches"),
        ("post", "/batches"),
        ("get", "/batches/1"),
        ("post", "/batches/1/steps/coi_in"),
        ("post", "/entries/1/verify"),
        ("post", "/entries/1/correct"),
        ("post", "/batches/1/hold"),
        ("post", "/batches/1/resume"),
        ("post", "/batches/1/complete"),
        ("post", "/batches/1/abort"),
        ("get", "/batches/1/review"),
        ("post", "/batches/1/review"),
        ("get", "/batches/1/samples"),
    ],
)
def test_every_route_needs_credentials(db, method: str, url: str) -> None:
    response = call(None, method, url)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("authentication required")


# --- master records -----------------------------------------------------------------------------
def test_master_records_read_export_and_schema(mfg: Mfg) -> None:
    w, mr = mfg.w, mfg.mbr
    listed = call(w.inspector, "get", "/master-records")
    assert listed.status_code == 200
    [one] = listed.json()
    assert one["id"] == mr.pk and one["product"] == "CD19-CART"
    assert one["version_status"] == "effective" and one["step_count"] == 14
    assert one["document_number"] == mr.document_version.document.number
    assert call(w.inspector, "get", "/master-records", {"product": "OTHER"}).json() == []

    detail = call(w.operator, "get", f"/master-records/{mr.pk}").json()
    assert [s["key"] for s in detail["steps"]][:4] == ["coi_in", "bsc", "reagent", "cells"]
    cells = detail["steps"][3]
    assert cells["kind"] == "numeric" and cells["verify"] is True
    assert cells["requires"] == ["TEST-APS"] and cells["operation"] == "receipt"
    assert cells["spec"]["unit"] == "cells" and cells["spec"]["action"] == {"low": "50000000"}
    assert detail["parameters"]["target_moi"]["value"] == "5"

    exported = call(w.inspector, "get", f"/master-records/{mr.pk}/yaml")
    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("text/yaml")
    assert exported.content.decode() == TEST_MBR
    assert exported["X-Content-SHA256"] == hashlib.sha256(TEST_MBR.encode()).hexdigest()
    assert exported["X-Content-SHA256"] == mr.file_sha256

    schema = call(w.inspector, "get", "/mbr-schema")
    assert schema.status_code == 200 and schema.json() == mbr.schema()

    for url in ("/master-records/999999", "/master-records/999999/yaml"):
        r = call(w.operator, "get", url)
        assert r.status_code == 404 and r.json()["field"] == "master_record_id"


def test_validate_answers_ok_or_400_naming_the_yaml_path(mfg: Mfg) -> None:
    w = mfg.w
    bearer(w.supervisor)
    with unchanged():
        ok = call(w.supervisor, "post", "/master-records/validate", {"yaml_text": TEST_MBR})
        assert ok.status_code == 200, ok.json()
        assert ok.json() == {
            "ok": True,
            "product": "CD19-CART",
            "process_version": "0.9",
            "title": "Test CAR-T process",
            "operations": 2,
            "steps": 14,
        }
        bad = TEST_MBR.replace("kind: choice", "kind: guess")
        r = call(w.supervisor, "post", "/master-records/validate", {"yaml_text": bad})
        assert r.status_code == 400
        assert r.json()["field"] == "yaml_text"
        assert "operations[1].steps[3]" in r.json()["detail"], r.json()
        r = call(w.supervisor, "post", "/master-records/validate", {"yaml_text": "- a list"})
        assert r.status_code == 400 and r.json()["field"] == "yaml_text"
        r = call(w.supervisor, "post", "/master-records/validate", {})
        assert r.status_code == 422 and r.json()["field"] == "yaml_text"


def test_import_creates_a_draft_version_of_a_new_or_existing_mbr(mfg: Mfg) -> None:
    w = mfg.w
    text = TEST_MBR.replace('process_version: "0.9"', 'process_version: "1.0"')
    r = call(
        w.supervisor,
        "post",
        "/master-records",
        {"yaml_text": text, "change_summary": "Process 1.0", "title": "CAR-T process 1.0"},
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["version_status"] == "draft" and body["version"] == 1
    assert body["process_version"] == "1.0" and len(body["steps"]) == 14
    assert body["parsed_by"] == w.supervisor.username
    again = call(
        w.supervisor,
        "post",
        "/master-records",
        {
            "yaml_text": text.replace("Visual inspection", "Look at it"),
            "change_summary": "Wording",
            "document_id": mfg.mbr.document_version.document_id,
        },
    )
    assert again.status_code == 201, again.json()
    assert again.json()["version"] == 2
    assert again.json()["document_id"] == mfg.mbr.document_version.document_id
    assert again.json()["version_status"] == "draft"
    busy = call(
        w.supervisor,
        "post",
        "/master-records",
        {"yaml_text": text, "change_summary": "Again", "document_id": body["document_id"]},
    )
    assert busy.status_code == 409 and "is draft" in busy.json()["detail"]
    assert busy.json()["field"] == "document_id"
    bearer(w.supervisor)
    with unchanged():
        r = call(
            w.supervisor,
            "post",
            "/master-records",
            {"yaml_text": text.replace("part: MAT-T01", "part: MAT-NOPE"), "change_summary": "x"},
        )
        assert r.status_code == 400 and r.json()["field"] == "yaml_text"
        assert "MAT-NOPE" in r.json()["detail"]
        r = call(
            w.supervisor,
            "post",
            "/master-records",
            {"yaml_text": text, "change_summary": "x", "document_id": 999999},
        )
        assert r.status_code == 404 and r.json()["field"] == "document_id"


# --- the batch record, start to QA review -------------------------------------------------------
def test_a_batch_runs_from_start_to_qa_review_through_the_api(mfg: Mfg, received) -> None:  # type: ignore[no-untyped-def]
    w = mfg.w
    order: TherapyOrder = received()
    started = call(mfg.operator, "post", "/batches", {"order_id": order.pk})
    assert started.status_code == 201, started.json()
    b = started.json()
    bid = b["id"]
    assert b["number"].startswith("B-MFG-B-") and b["coi"] == order.coi
    assert b["status"] == "in_progress" and b["master_record_id"] == mfg.mbr.pk
    assert b["next_steps"] == ["coi_in"] and b["progress"] == {"done": 0, "total": 14}
    assert [s["state"] for s in b["steps"][:2]] == ["next", "waiting"]

    def ok(key: str, who=None, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        r = step(mfg, bid, key, who, **body)
        assert r.status_code == 201, (key, r.json())
        return r.json()  # type: ignore[no-any-return]

    coi = ok("coi_in", scan=f"&/{order.coi}")
    assert coi["status"] == "done" and coi["details"]["matched"]
    assert ok("bsc", scan=mfg.bsc.equipment_id)["value_text"] == "BSC-01"
    reagent = ok("reagent", scan=mfg.reagent.lot_number)
    assert reagent["value_text"] == "LOT-R1" and reagent["value_number"] == "2"
    cells = ok("cells", value=1.2e8)  # a JSON number
    assert cells["status"] == "awaiting_verification" and cells["flag"] == ""
    assert float(cells["value_number"]) == 1.2e8 and cells["unit"] == "cells"
    waiting = call(mfg.operator, "get", f"/batches/{bid}").json()
    assert waiting["next_steps"] == []
    assert waiting["steps"][3]["state"] == "awaiting_verification"
    verified = call(mfg.verifier, "post", f"/entries/{cells['id']}/verify", {"password": PASSWORD})
    assert verified.status_code == 200, verified.json()
    assert verified.json()["verified_by"] == mfg.verifier.username
    assert verified.json()["status"] == "done"
    ok("vector", scan=mfg.vector.lot_number)
    volume = ok("vector_ml")
    assert volume["value_number"] == "0.5" and volume["unit"] == "mL"  # 1.2e8 * 5 / 1.2e9
    assert ok("rest")["unit"] == "min"
    ok("look", value="clear")
    after_look = call(mfg.operator, "get", f"/batches/{bid}").json()
    assert after_look["next_steps"] == ["branch_a", "branch_b"]  # parallel branches
    note = ok("branch_a", value="12")  # a text that looks like a number stays a text
    assert note["value_text"] == "12"
    ok("branch_b")
    assert ok("dose")["value_number"] == "68500000"  # 68.5 kg * 1e6
    sample = ok("ipc")
    ok("bag_label")
    corrected = call(
        mfg.operator,
        "post",
        f"/entries/{note['id']}/correct",
        {"reason": "Typed the wrong note", "value": "all well"},
    )
    assert corrected.status_code == 201, corrected.json()
    assert corrected.json()["corrects_id"] == note["id"]
    assert corrected.json()["value_text"] == "all well"
    r = step(mfg, bid, "sign")
    assert r.status_code == 400 and r.json()["field"] == "password"
    signoff = ok("sign", password=PASSWORD)
    assert signoff["status"] == "awaiting_verification"  # performed by, verified by
    r = call(mfg.verifier, "post", f"/entries/{signoff['id']}/verify", {"password": PASSWORD})
    assert r.status_code == 200, r.json()

    detail = call(mfg.operator, "get", f"/batches/{bid}").json()
    assert detail["progress"] == {"done": 14, "total": 14}
    branch_a = next(s for s in detail["steps"] if s["key"] == "branch_a")
    assert branch_a["entry"]["value_text"] == "all well"
    assert [e["value_text"] for e in branch_a["history"]] == ["12"]
    assert branch_a["history"][0]["status"] == "superseded"

    samples = call(w.inspector, "get", f"/batches/{bid}/samples").json()
    assert [s["number"] for s in samples] == [sample["value_text"]]
    assert samples[0]["tests"] == ["cell count", "viability"]
    assert order.coi_eye_readable in samples[0]["label_text"]

    done = call(mfg.operator, "post", f"/batches/{bid}/complete")
    assert done.status_code == 200 and done.json()["status"] == "completed"
    review = call(mfg.qa, "get", f"/batches/{bid}/review").json()
    assert review["status"] == "completed" and len(review["record_sha256"]) == 64
    kinds = [x["kind"] for x in review["exceptions"]]
    assert "correction" in kinds
    fix = next(x for x in review["exceptions"] if x["kind"] == "correction")
    assert fix["step_key"] == "branch_a" and "Typed the wrong note" in fix["detail"]
    r = call(mfg.operator, "post", f"/batches/{bid}/review", {"password": PASSWORD})
    assert r.status_code == 403  # operators do not review
    signed = call(mfg.qa, "post", f"/batches/{bid}/review", {"password": PASSWORD, "comment": "OK"})
    assert signed.status_code == 200, signed.json()
    assert signed.json()["status"] == "reviewed" and signed.json()["review_comment"] == "OK"
    assert Signature.objects.get(record_type="manufacturing.batch").meaning == "reviewed"
    listed = call(mfg.qa, "get", "/batches", {"status": "reviewed"}).json()
    assert [x["id"] for x in listed] == [bid]
    assert call(mfg.qa, "get", "/batches", {"status": "in_progress"}).json() == []
    assert verify_chain().ok


def test_out_of_limit_entry_needs_a_comment_and_raises_a_deviation(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="cells")
    bearer(mfg.operator)
    with unchanged():
        r = step(mfg, batch, "cells", value="40000000")
        assert r.status_code == 400 and r.json()["field"] == "comment"
        assert "action limits" in r.json()["detail"]
    r = step(mfg, batch, "cells", value="40000000", comment="Low yield, supervisor informed")
    assert r.status_code == 201, r.json()
    entry = r.json()
    assert entry["flag"] == "action" and entry["deviation"]
    assert Deviation.objects.get(number=entry["deviation"]).site == mfg.w.mfg
    review = call(mfg.qa, "get", f"/batches/{batch.pk}/review").json()
    assert {"limit", "comment", "deviation", "unverified"} <= {
        x["kind"] for x in review["exceptions"]
    }
    limit = next(x for x in review["exceptions"] if x["kind"] == "limit")
    assert limit["step_key"] == "cells" and limit["detail"].startswith("40000000")
    dev = next(x for x in review["exceptions"] if x["kind"] == "deviation")
    assert dev["deviation"] == entry["deviation"] and dev["deviation_status"]


# --- interlocks ---------------------------------------------------------------------------------
def test_an_interlock_answers_409_with_the_reason_and_records_the_attempt(
    mfg: Mfg, batch: Batch
) -> None:
    bearer(mfg.operator)
    with blocked(batch):
        r = step(mfg, batch, "cells", value="120000000")
    assert r.status_code == 409 and r.json()["field"] == "step_key"
    assert "out of order" in r.json()["detail"] and "'reagent'" in r.json()["detail"]

    run(mfg, batch, until="bsc")
    with blocked(batch):
        r = step(mfg, batch, "bsc", scan=mfg.centrifuge.equipment_id)
    assert r.status_code == 409 and r.json()["field"] == "scan"
    assert "needs a biosafety cabinet" in r.json()["detail"]

    run(mfg, batch, until="cells")
    entry = step(mfg, batch, "cells", value="120000000").json()
    with blocked(batch, "manufacturing.step.verify"):
        r = call(mfg.operator, "post", f"/entries/{entry['id']}/verify", {"password": PASSWORD})
    assert r.status_code == 409 and r.json()["field"] == "password"
    assert "cannot verify their own entry" in r.json()["detail"]


def test_hold_blocks_steps_until_resumed_and_abort_needs_qa(mfg: Mfg, batch: Batch) -> None:
    w = mfg.w
    r = call(mfg.operator, "post", f"/batches/{batch.pk}/hold", {"reason": "Cabinet alarm"})
    assert r.status_code == 200 and r.json()["status"] == "on_hold"
    assert r.json()["hold_reason"] == "Cabinet alarm"
    assert call(mfg.operator, "get", f"/batches/{batch.pk}").json()["next_steps"] == []
    r = step(mfg, batch, "coi_in", scan=f"&/{batch.coi}")
    assert r.status_code == 409 and "Cabinet alarm" in r.json()["detail"]
    r = call(mfg.operator, "post", f"/batches/{batch.pk}/resume", {"reason": "Alarm cleared"})
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    r = call(mfg.operator, "post", f"/batches/{batch.pk}/resume", {"reason": "again"})
    assert r.status_code == 409 and r.json()["field"] == "batch_id"
    r = call(mfg.operator, "post", f"/batches/{batch.pk}/complete")
    assert r.status_code == 409 and "not done" in r.json()["detail"]
    body = {"reason": "Contaminated", "password": PASSWORD}
    assert call(mfg.operator, "post", f"/batches/{batch.pk}/abort", body).status_code == 403
    wrong = call(w.qa_approver, "post", f"/batches/{batch.pk}/abort", {**body, "password": "x"})
    assert wrong.status_code == 403 and wrong.json()["field"] == "password"
    r = call(w.qa_approver, "post", f"/batches/{batch.pk}/abort", body)
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "aborted" and r.json()["abort_reason"] == "Contaminated"
    assert TherapyOrder.objects.get(pk=batch.order_id).status == "rejected"


# --- roles, sites, bad input --------------------------------------------------------------------
def _writes(mfg: Mfg, b: Batch, entry: StepEntry) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("post", "/master-records", {"yaml_text": TEST_MBR, "change_summary": "x"}),
        ("post", "/batches", {"order_id": b.order_id}),
        ("post", f"/batches/{b.pk}/steps/bsc", {"scan": mfg.bsc.equipment_id}),
        ("post", f"/entries/{entry.pk}/verify", {"password": PASSWORD}),
        ("post", f"/entries/{entry.pk}/correct", {"reason": "typo", "value": "1"}),
        ("post", f"/batches/{b.pk}/hold", {"reason": "stop"}),
        ("post", f"/batches/{b.pk}/resume", {"reason": "go"}),
        ("post", f"/batches/{b.pk}/complete", {}),
        ("post", f"/batches/{b.pk}/abort", {"reason": "stop", "password": PASSWORD}),
        ("post", f"/batches/{b.pk}/review", {"password": PASSWORD}),
    ]


def test_every_write_refuses_an_inspector_and_writes_nothing(mfg: Mfg, batch: Batch) -> None:
    entries = run(mfg, batch, until="bsc")
    inspector = mfg.w.inspector
    bearer(inspector)
    with unchanged():
        for method, url, body in _writes(mfg, batch, entries["coi_in"]):
            r = call(inspector, method, url, body)
            assert r.status_code == 403, (url, r.json())
            assert "needs one of these roles" in r.json()["detail"]


def test_another_sites_batch_is_not_found(mfg: Mfg, batch: Batch, make_site, make_user) -> None:  # type: ignore[no-untyped-def]
    entries = run(mfg, batch, until="bsc")
    elsewhere = make_site(code="MFG-X", kind="manufacturing", time_zone="UTC", fin="X1234")
    stranger = make_user(Role.SUPERVISOR, elsewhere, username="stranger")
    qa_elsewhere = make_user(Role.QA_APPROVER, elsewhere, username="qa-x")
    bearer(stranger), bearer(qa_elsewhere)
    assert call(stranger, "get", "/batches").json() == []
    with unchanged():
        for url in (f"/batches/{batch.pk}", f"/batches/{batch.pk}/review"):
            r = call(stranger, "get", url)
            assert r.status_code == 404 and r.json()["field"] == "batch_id"
        r = call(stranger, "get", f"/batches/{batch.pk}/samples")
        assert r.status_code == 404
        for who in (stranger, qa_elsewhere):
            for method, url, body in _writes(mfg, batch, entries["coi_in"])[2:]:
                r = call(who, method, url, body)
                assert r.status_code == 404, (url, r.json())
                assert r.json()["field"] in {"batch_id", "entry_id"}


def test_bad_input_is_4xx_naming_the_field_and_writes_nothing(mfg: Mfg, batch: Batch) -> None:
    run(mfg, batch, until="cells")
    op = mfg.operator
    bearer(op)
    naive = (now() - dt.timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    cases: list[tuple[str, str, Any, int, str]] = [
        ("post", "/batches", {}, 400, "order_id"),
        ("post", "/batches", {"order_id": "x"}, 422, "order_id"),
        ("post", "/batches", {"order_id": 999999}, 404, "order_id"),
        ("post", "/batches", {"order_id": batch.order_id}, 409, "order_id"),
        ("post", f"/batches/{batch.pk}/steps/cells", {"value": "many"}, 400, "value"),
        ("post", f"/batches/{batch.pk}/steps/cells", {"value": 1.5}, 400, "value"),
        ("post", f"/batches/{batch.pk}/steps/cells", {"value": [1]}, 422, "value"),
        ("post", f"/batches/{batch.pk}/steps/cells", {"value": -5}, 400, "value"),
        ("post", f"/batches/{batch.pk}/steps/nope", {}, 404, "step_key"),
        (
            "post",
            f"/batches/{batch.pk}/steps/cells",
            {"value": 1e8, "performed_at": naive},
            422,
            "performed_at",
        ),
        (
            "post",
            f"/batches/{batch.pk}/steps/cells",
            {"value": 1e8, "performed_at": (now() + dt.timedelta(hours=1)).isoformat()},
            400,
            "performed_at",
        ),
        ("post", f"/batches/{batch.pk}/hold", {"reason": ""}, 400, "reason"),
        ("post", f"/batches/{batch.pk}/hold", {}, 422, "reason"),
        ("get", "/batches", {"status": "lost"}, 422, "status"),
        ("get", f"/batches/{2**64}", None, 404, "batch_id"),
        ("post", "/entries/999999/verify", {"password": PASSWORD}, 404, "entry_id"),
    ]
    with unchanged():
        for method, url, body, status, field in cases:
            r = call(op, method, url, body)
            assert r.status_code == status, (url, body, r.json())
            assert r.json()["field"] == field, (url, body, r.json())
    assert not Batch.objects.exclude(pk=batch.pk).exists()
    assert MasterRecord.objects.count() == 1
    assert services.open_steps(batch)[0] == "cells"
