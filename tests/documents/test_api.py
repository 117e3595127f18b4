"""The documents API: every action, 401 without credentials, 403 for the wrong role, 4xx for
bad input naming the field, and the PDF served only while it matches its SHA-256."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat

import pytest
from django.core.files.storage import default_storage
from django.test import Client

from tests.conftest import PASSWORD
from tests.documents.conftest import unchanged
from tests.documents.factories import pdf_bytes, pdf_upload
from vein2vein.core import services as core_services
from vein2vein.core.choices import Role
from vein2vein.documents import services
from vein2vein.documents.models import Document, DocumentVersion
from vein2vein.documents.services._common import today

API = "/api/v1/documents"


def bearer(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    _, raw = core_services.create_api_token(actor=user, user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def post(url: str, body: dict, headers: dict[str, str]):  # type: ignore[no-untyped-def, type-arg]
    return Client().post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ""),
        ("post", ""),
        ("get", "/SOP-0001"),
        ("post", "/SOP-0001/versions"),
        ("post", "/SOP-0001/obsolete"),
        ("get", "/queues/mine"),
        ("get", "/reviews/overdue"),
        ("post", "/activate-due"),
        ("get", "/versions/1"),
        ("get", "/versions/1/file"),
        ("post", "/versions/1/draft"),
        ("post", "/versions/1/submit"),
        ("post", "/versions/1/return"),
        ("post", "/versions/1/review"),
        ("post", "/versions/1/approve"),
        ("post", "/versions/1/effective"),
        ("post", "/versions/1/obsolete"),
        ("post", "/versions/1/periodic-review"),
    ],
)
def test_every_route_needs_authentication(db, method, path):
    response = getattr(Client(), method)(API + path)
    assert response.status_code == 401, path
    assert "authentication required" in response.json()["detail"]


def test_create_document_roles_and_bad_input(author, operator, admin_user):
    body = {"kind": "sop", "title": "Gowning"}
    response = post(API, body, bearer(author))
    assert response.status_code == 201, response.content
    assert response.json()["number"] == "SOP-0001"
    for user in (operator, admin_user):
        headers = bearer(user)
        with unchanged():
            response = post(API, body, headers)
        assert response.status_code == 403
        assert "documents.document.author" in response.json()["detail"]
    headers = bearer(author)
    with unchanged():
        response = post(API, {"kind": "memo", "title": "X"}, headers)
    assert response.status_code == 400 and response.json()["field"] == "kind"
    with unchanged():
        response = post(API, {"kind": "sop", "title": "x" * 201}, headers)
    assert response.status_code == 422 and response.json()["field"] == "title"
    with unchanged():
        response = post(API, {"kind": "sop", "title": "X", "number": "SOP-0001"}, headers)
    assert response.status_code == 400 and response.json()["field"] == "number"


def test_whole_lifecycle_through_the_api(author, reviewer, approver, operator):
    a, r, p = bearer(author), bearer(reviewer), bearer(approver)
    client = Client()
    assert post(API, {"kind": "sop", "title": "Gowning"}, a).status_code == 201
    response = client.post(
        f"{API}/SOP-0001/versions",
        {"change_summary": "Initial issue", "file": pdf_upload("gowning.pdf")},
        **a,
    )
    assert response.status_code == 201, response.content
    v = response.json()
    assert (v["status"], v["file_name"], v["version"]) == ("draft", "gowning.pdf", 1)
    url = f"{API}/versions/{v['id']}"

    response = client.post(url + "/draft", {"change_summary": "Initial issue, rev A"}, **a)
    assert response.status_code == 200 and response.json()["change_summary"].endswith("rev A")
    assert client.post(url + "/submit", **a).json()["status"] == "in_review"

    with unchanged():
        response = post(url + "/review", {"password": "wrong"}, r)
    assert response.status_code == 403 and response.json()["field"] == "password"
    with unchanged():
        response = post(url + "/approve", {"password": PASSWORD}, p)
    assert response.status_code == 409 and "reviewed before approval" in response.json()["detail"]
    with unchanged():
        response = post(url + "/review", {"password": PASSWORD}, a)
    assert response.status_code == 403 and "author" in response.json()["detail"]
    assert post(url + "/review", {"password": PASSWORD, "reason": "OK"}, r).status_code == 200

    queue = client.get(f"{API}/queues/mine", **p).json()
    assert [x["id"] for x in queue["to_approve"]] == [v["id"]]
    with unchanged():
        response = post(url + "/approve", {"password": PASSWORD, "effective_date": "2099-01-01"}, p)
    assert response.status_code == 400 and response.json()["field"] == "effective_date"
    response = post(url + "/approve", {"password": PASSWORD}, p)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "effective"
    assert [s["meaning"] for s in body["signatures"]] == ["Reviewed", "Approved"]
    assert all(s["valid"] for s in body["signatures"])

    o = bearer(operator)
    detail = client.get(f"{API}/SOP-0001", **o).json()
    assert detail["effective_version"] == 1 and [x["version"] for x in detail["versions"]] == [1]
    file_response = client.get(body["file_url"], **o)
    assert file_response.status_code == 200
    content = b"".join(file_response.streaming_content)
    assert hashlib.sha256(content).hexdigest() == body["file_sha256"]
    assert file_response["Content-Disposition"].startswith("inline")

    # Tampered on disk: refused with 409, never served.
    version = DocumentVersion.objects.get(pk=v["id"])
    path = default_storage.path(version.file.name)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    with open(path, "ab") as fh:
        fh.write(b"% appended")
    response = client.get(body["file_url"], **o)
    assert response.status_code == 409 and response.json()["field"] == "file"


def test_reader_cannot_see_drafts(draft, operator, author):
    o = bearer(operator)
    client = Client()
    assert client.get(f"{API}/versions/{draft.pk}", **o).status_code == 403
    assert client.get(f"{API}/versions/{draft.pk}/file", **o).status_code == 403
    assert client.get(f"{API}/{draft.document.number}", **o).status_code == 403
    assert client.get(API, **o).json() == []
    assert client.get(f"{API}/versions/{draft.pk}", **bearer(author)).status_code == 200


@pytest.mark.parametrize("path", ["/versions/999999", "/versions/9223372036854775807", "/SOP-9"])
def test_unknown_ids_are_404(author, path):
    assert Client().get(API + path, **bearer(author)).status_code == 404


def test_upload_refusals_name_the_field(effective, author):
    headers = bearer(author)
    client = Client()
    with unchanged():
        response = client.post(
            f"{API}/SOP-0001/versions",
            {"change_summary": "Rev 2", "file": pdf_upload("x.pdf", b"PK\x03\x04 zip")},
            **headers,
        )
    assert response.status_code == 400 and response.json()["field"] == "file"
    with unchanged():
        response = client.post(f"{API}/SOP-0001/versions", {"file": pdf_upload()}, **headers)
    # src/vein2vein/api.py names multipart fields "form.<name>" (it strips body/query/path).
    assert response.status_code == 422 and response.json()["field"].endswith("change_summary")
    with unchanged():
        response = client.post(
            f"{API}/SOP-0001/versions",
            {"change_summary": "Rev 2", "effective_date": "not-a-date"},
            **headers,
        )
    assert response.status_code == 422 and response.json()["field"].endswith("effective_date")


def test_effective_without_approval_and_roles(in_review, approver, operator):
    p, o = bearer(approver), bearer(operator)
    with unchanged():
        response = post(f"{API}/versions/{in_review.pk}/effective", {}, p)
    assert response.status_code == 409
    with unchanged():
        response = post(f"{API}/versions/{in_review.pk}/effective", {}, o)
    assert response.status_code == 403


def test_activate_due_route(author, reviewer, approver, operator, set_today):
    later = today() + dt.timedelta(days=3)
    version = services.draft_new_document(
        actor=author,
        kind="sop",
        title="Later",
        change_summary="I",
        file=pdf_upload(),
        effective_date=later,
    )
    from tests.documents.conftest import to_effective

    to_effective(version, author, reviewer, approver)
    assert post(f"{API}/activate-due", {}, bearer(operator)).status_code == 403
    assert post(f"{API}/activate-due", {}, bearer(approver)).json() == []
    set_today(later)
    activated = post(f"{API}/activate-due", {}, bearer(approver)).json()
    assert [v["status"] for v in activated] == ["effective"]


def test_return_obsolete_and_periodic_review_routes(effective, author, reviewer, approver):
    client = Client()
    a, r, p = bearer(author), bearer(reviewer), bearer(approver)
    response = client.post(
        f"{API}/SOP-0001/versions",
        {"change_summary": "Rev 2", "file": pdf_upload("r2.pdf", pdf_bytes("Rev 2"))},
        **a,
    )
    v2 = response.json()["id"]
    assert client.post(f"{API}/versions/{v2}/submit", **a).status_code == 200
    with unchanged():
        assert post(f"{API}/versions/{v2}/return", {"reason": ""}, r).status_code == 400
    assert post(f"{API}/versions/{v2}/return", {"reason": "Unclear"}, r).json()["status"] == "draft"
    response = post(f"{API}/versions/{v2}/obsolete", {"reason": "Dropped"}, a)
    assert response.json()["status"] == "obsolete"

    response = post(f"{API}/versions/{effective.pk}/periodic-review", {"password": PASSWORD}, r)
    assert response.status_code == 201 and response.json()["reviewed_by"] == "qa1"
    assert Client().get(f"{API}/reviews/overdue", **r).json() == []

    with unchanged():
        assert post(f"{API}/SOP-0001/obsolete", {"reason": "Retired"}, a).status_code == 403
    response = post(f"{API}/SOP-0001/obsolete", {"reason": "Retired"}, p)
    assert response.status_code == 200 and response.json()["obsoleted_at"]
    assert Document.objects.get().obsoleted_at is not None


def test_list_filters(effective, author, make_user):
    headers = bearer(author)
    client = Client()
    assert [d["number"] for d in client.get(f"{API}?kind=sop", **headers).json()] == ["SOP-0001"]
    assert client.get(f"{API}?kind=form", **headers).json() == []
    assert client.get(f"{API}?overdue=true", **headers).json() == []
    assert client.get(f"{API}?q=a%00b", **headers).status_code == 400  # the NUL guard
    qc = make_user(Role.QC_ANALYST)
    assert client.get(f"{API}?status=effective", **bearer(qc)).json()[0]["effective_version"] == 1
