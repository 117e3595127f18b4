"""Training pages: who may open which, forms that call the services, 4xx (never 5xx) for bad
input and refusals, and the dashboard panel."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from tests.training.conftest import TRAINING_MODELS
from vein2vein.core.models import Signature
from vein2vein.training import services
from vein2vein.training.models import (
    Curriculum,
    CurriculumItem,
    Qualification,
    QualificationType,
    TrainingAssignment,
)


def browser(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _assignment(user, document):  # type: ignore[no-untyped-def]
    return TrainingAssignment.objects.get(trainee=user, document_version__document=document)


PAGES = [
    "/training/",
    "/training/matrix/",
    "/training/assignments/",
    "/training/assignments/1/",
    "/training/assignments/1/sign/",
    "/training/curricula/",
    "/training/curricula/new/",
    "/training/qualifications/",
    "/training/qualifications/grant/",
    "/training/qualification-types/",
    "/training/people/1/",
]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_login(db, url):
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_my_training_lists_what_to_read_and_the_status(operator, curriculum, sop4):
    page = browser(operator).get("/training/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "My training" in html
    assert "SOP-0004" in html and "Sign…" in html
    assert "SOP-0004 v1 not read" in html
    assert "Aseptic process simulation not held" in html
    assert "(trainer-led)" in html  # SOP-0001


def test_sign_page_signs_with_the_password(operator, curriculum, sop4):
    a = _assignment(operator, sop4)
    client = browser(operator)
    page = client.get(f"/training/assignments/{a.pk}/sign/")
    assert page.status_code == 200
    assert "I have read and understood SOP-0004 version 1" in page.content.decode()
    with nothing_written(*TRAINING_MODELS):
        wrong = client.post(f"/training/assignments/{a.pk}/sign/", {"password": "nope"})
        empty = client.post(f"/training/assignments/{a.pk}/sign/", {"password": ""})
    assert wrong.status_code == 403 and "password is incorrect" in wrong.content.decode()
    assert empty.status_code == 400
    done = client.post(
        f"/training/assignments/{a.pk}/sign/", {"password": PASSWORD, "reason": "Read"}
    )
    assert done.status_code == 302 and done["Location"] == "/training/"
    a.refresh_from_db()
    assert a.status == "completed"
    page = client.get("/training/").content.decode()
    assert "completed" in page


def test_someone_else_cannot_sign_on_the_page(operator, operator2, curriculum, sop4):
    a = _assignment(operator, sop4)
    with nothing_written(*TRAINING_MODELS):
        response = browser(operator2).post(
            f"/training/assignments/{a.pk}/sign/", {"password": PASSWORD}
        )
    assert response.status_code == 403
    assert "only the trainee" in response.content.decode()


def test_trainer_sign_off_page(operator, supervisor, curriculum, sop1):
    a = _assignment(operator, sop1)
    services.sign_assignment(actor=operator, assignment_id=a.pk, password=PASSWORD)
    home = browser(supervisor).get("/training/").content.decode()
    assert "Awaiting my sign-off as trainer" in home
    url = f"/training/assignments/{a.pk}/sign-off/"
    with nothing_written(*TRAINING_MODELS):
        by_trainee = browser(operator).post(url, {"password": PASSWORD})
    assert by_trainee.status_code == 403 and "another person" in by_trainee.content.decode()
    done = browser(supervisor).post(url, {"password": PASSWORD})
    assert done.status_code == 302
    detail = browser(supervisor).get(done["Location"]).content.decode()
    assert "Sofia Supervisor" in detail and "Verified" in detail and "Performed" in detail


def test_assignment_detail_visibility(operator, operator2, supervisor, curriculum, sop4):
    a = _assignment(operator, sop4)
    assert browser(operator).get(f"/training/assignments/{a.pk}/").status_code == 200
    assert browser(operator2).get(f"/training/assignments/{a.pk}/").status_code == 403
    page = browser(supervisor).get(f"/training/assignments/{a.pk}/")
    assert page.status_code == 200
    assert "training.assignment.created" in page.content.decode()  # the timeline
    assert browser(supervisor).get("/training/assignments/9999/").status_code == 404


def test_overview_pages_need_the_overview_permission(operator, supervisor, inspector, curriculum):
    for url in (
        "/training/matrix/",
        "/training/assignments/",
        "/training/curricula/",
        "/training/qualifications/",
        "/training/qualification-types/",
        f"/training/people/{operator.pk}/",
        f"/training/curricula/{curriculum.pk}/",
    ):
        assert browser(operator).get(url).status_code == 403, url
        assert browser(supervisor).get(url).status_code == 200, url
        assert browser(inspector).get(url).status_code == 200, url


def test_matrix_shows_who_is_missing_what(operator, supervisor, site, curriculum):
    page = browser(supervisor).get("/training/matrix/", {"site": site.pk, "role": "operator"})
    html = page.content.decode()
    assert "Olivia Operator" in html and "SOP-0004 v1 not read" in html
    assert browser(supervisor).get("/training/matrix/", {"site": "x"}).status_code == 400


def test_filters_reject_bad_input_with_400(supervisor, curriculum):
    client = browser(supervisor)
    assert client.get("/training/assignments/", {"trainee": "a\x00"}).status_code == 400
    assert client.get("/training/assignments/", {"status": "lost"}).status_code == 400
    assert client.get("/training/qualifications/", {"state": "odd"}).status_code == 400
    assert client.get("/training/qualifications/", {"user": "a\x00"}).status_code == 400
    ok = client.get("/training/assignments/", {"document": "SOP-0004", "overdue": "on"})
    assert ok.status_code == 200


def test_sync_button(operator, supervisor, curriculum):
    response = browser(supervisor).post("/training/sync/")
    assert response.status_code == 302
    assert browser(operator).post("/training/sync/").status_code == 403


def test_curriculum_pages(supervisor, operator, sop4, aps):
    client = browser(supervisor)
    created = client.post("/training/curricula/new/", {"role": "operator", "name": "Operator"})
    assert created.status_code == 302
    c = Curriculum.objects.get()
    added = client.post(
        f"/training/curricula/{c.pk}/documents/",
        {"document_number": "SOP-0004", "due_days": 14, "trainer_led": "on"},
    )
    assert added.status_code == 302
    item = CurriculumItem.objects.get(document=sop4)
    assert item.trainer_led is True
    assert TrainingAssignment.objects.filter(trainee=operator).count() == 1
    assert (
        client.post(
            f"/training/curricula/{c.pk}/qualifications/", {"qualification_code": "APS"}
        ).status_code
        == 302
    )
    with nothing_written(*TRAINING_MODELS):
        dup = client.post("/training/curricula/new/", {"role": "operator", "name": "Again"})
        bad = client.post(f"/training/curricula/{c.pk}/documents/", {"document_number": "NO"})
        again = client.post(
            f"/training/curricula/{c.pk}/documents/",
            {"document_number": "SOP-0004", "due_days": 14},
        )
        refused = browser(operator).post(
            "/training/curricula/new/", {"role": "verifier", "name": "V"}
        )
    assert dup.status_code == 400 and "already exists" in dup.content.decode()
    assert bad.status_code == 400
    assert again.status_code == 400 and "already in" in again.content.decode()
    assert refused.status_code == 403
    detail = client.get(f"/training/curricula/{c.pk}/").content.decode()
    assert "training.curriculum.document_added" in detail
    removed = client.post(
        f"/training/curricula/items/{item.pk}/remove/", {"reason": "Now in WI-0001"}
    )
    assert removed.status_code == 302
    with nothing_written(*TRAINING_MODELS):
        twice = client.post(f"/training/curricula/items/{item.pk}/remove/", {"reason": "x"})
    assert twice.status_code == 409


def test_qualification_type_pages(supervisor):
    client = browser(supervisor)
    body = {"code": "APS", "name": "APS", "kind": "aseptic", "validity_months": 6}
    assert client.post("/training/qualification-types/new/", body).status_code == 302
    with nothing_written(*TRAINING_MODELS):
        assert client.post("/training/qualification-types/new/", body).status_code == 400
        assert (
            client.post(
                "/training/qualification-types/new/", {**body, "code": "X", "validity_months": 0}
            ).status_code
            == 400
        )
    edit = client.post(
        "/training/qualification-types/APS/edit/",
        {**body, "validity_months": 12, "is_active": "on", "reason": "New policy"},
    )
    assert edit.status_code == 302
    assert QualificationType.objects.get().validity_months == 12
    with nothing_written(*TRAINING_MODELS):
        same = client.post(
            "/training/qualification-types/APS/edit/",
            {**body, "validity_months": 12, "is_active": "on", "reason": "Nothing"},
        )
    assert same.status_code == 400
    assert client.get("/training/qualification-types/NOPE/edit/").status_code == 404


def test_grant_and_revoke_pages(operator, operator2, supervisor, site, aps):
    client = browser(supervisor)
    form = client.get("/training/qualifications/grant/")
    assert form.status_code == 200 and "Sign and grant" in form.content.decode()
    body = {"user": operator.pk, "qualification_code": "APS", "site": site.pk}
    with nothing_written(*TRAINING_MODELS):
        wrong = client.post("/training/qualifications/grant/", {**body, "password": "no"})
        to_self = client.post(
            "/training/qualifications/grant/", {**body, "user": supervisor.pk, "password": PASSWORD}
        )
        by_operator = browser(operator2).post(
            "/training/qualifications/grant/", {**body, "password": PASSWORD}
        )
    assert wrong.status_code == 403 and "password is incorrect" in wrong.content.decode()
    assert to_self.status_code == 403 and "themselves" in to_self.content.decode()
    assert by_operator.status_code == 403
    done = client.post(
        "/training/qualifications/grant/", {**body, "password": PASSWORD, "note": "APS run 7"}
    )
    assert done.status_code == 302
    q = Qualification.objects.get()
    assert Signature.objects.get(record_id=str(q.pk)).meaning == "approved"
    detail = client.get(done["Location"]).content.decode()
    assert "Approved" in detail and "APS run 7" in detail and "Revoke" in detail
    assert browser(operator).get(done["Location"]).status_code == 200  # their own
    assert browser(operator2).get(done["Location"]).status_code == 403
    mine = browser(operator).get("/training/").content.decode()
    assert "Aseptic process simulation" in mine and "valid" in mine
    with nothing_written(*TRAINING_MODELS):
        no_reason = client.post(f"/training/qualifications/{q.pk}/revoke/", {"reason": ""})
    assert no_reason.status_code == 400
    revoked = client.post(f"/training/qualifications/{q.pk}/revoke/", {"reason": "Failed APS"})
    assert revoked.status_code == 302
    assert "revoked" in browser(operator).get("/training/").content.decode()


def test_dashboard_panel(operator, admin_user, curriculum, client):
    page = browser(operator).get("/").content.decode()
    assert 'data-testid="training-panel"' in page
    assert "SOP-0004 v1" in page and "not qualified" in page
    admin_page = browser(admin_user).get("/").content.decode()
    assert 'data-testid="training-panel"' not in admin_page


def test_nul_in_a_path_is_a_400_not_a_500(supervisor, aps):
    response = browser(supervisor).get("/training/qualification-types/A%00B/edit/")
    assert response.status_code == 400


def test_the_page_and_the_api_filter_the_same_assignments(operator, supervisor, curriculum, sop4):  # type: ignore[no-untyped-def]
    """training/filters.py is read by both: the same filters, the same assignments."""
    from tests.core.test_api import bearer

    a = _assignment(operator, sop4)
    client = browser(supervisor)
    headers = bearer(supervisor)
    cases = [
        ("document=SOP-0004", "document=SOP-0004"),
        (
            f"trainee={operator.username}&status={a.status}",
            f"trainee={operator.username}&status={a.status}",
        ),
        ("overdue=on", "overdue=true"),
        ("document=SOP-9999", "document=SOP-9999"),
    ]
    listed = []
    for page_query, api_query in cases:
        page = client.get(f"/training/assignments/?{page_query}")
        assert page.status_code == 200
        api = client.get(f"/api/v1/training/assignments?{api_query}", **headers)
        assert api.status_code == 200
        ids = {row["id"] for row in api.json()}
        on_page = f"/training/assignments/{a.pk}/" in page.content.decode()
        assert on_page == (a.pk in ids), page_query
        listed.append(on_page)
    assert listed[0] and listed[1] and not listed[3]
    assert client.get("/training/assignments/?status=lost").status_code == 400
    api = client.get("/api/v1/training/assignments?status=lost", **headers)
    assert api.status_code == 400 and api.json()["field"] == "status"
