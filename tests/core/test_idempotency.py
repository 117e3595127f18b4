"""Idempotency keys on machine posts (DESIGN.md rule 8): a retry is applied once, never twice."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection, connections
from django.db.models.signals import post_save
from django.test import Client

from tests.core.helpers import nothing_written
from vein2vein.core import idempotency, services
from vein2vein.core.models import AuditEvent, IdempotencyKey, Site

NEW_SITE = {"code": "QC-LAB", "name": "QC lab", "kind": "qc_lab", "time_zone": "Europe/Berlin"}


def bearer(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    _, raw = services.create_api_token(actor=user, user=user, name="machine")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def post(url: str, body: dict, key: str | None, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    extra = dict(headers)
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return Client().post(url, json.dumps(body), content_type="application/json", **extra)


def test_retry_replays_the_first_answer_and_writes_nothing(admin_user):
    headers = bearer(admin_user)
    first = post("/api/v1/sites", NEW_SITE, "k-1", headers)
    assert first.status_code == 201, first.content
    assert first.get("Idempotent-Replayed") is None
    stored = IdempotencyKey.objects.get(user=admin_user, key="k-1")
    assert (stored.method, stored.path, stored.status_code) == ("POST", "/api/v1/sites", 201)
    with nothing_written():
        again = post("/api/v1/sites", NEW_SITE, "k-1", headers)
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["Content-Type"] == first["Content-Type"]
    assert Site.objects.filter(code="QC-LAB").count() == 1
    assert AuditEvent.objects.filter(action="site.created").count() == 1


def test_same_key_with_another_body_or_path_is_422_naming_the_header(admin_user, site):
    headers = bearer(admin_user)
    assert post("/api/v1/sites", NEW_SITE, "k-2", headers).status_code == 201
    with nothing_written():
        other_body = post("/api/v1/sites", {**NEW_SITE, "code": "QC-2"}, "k-2", headers)
    assert other_body.status_code == 422
    assert other_body.json()["field"] == "Idempotency-Key"
    assert "another body" in other_body.json()["detail"]
    with nothing_written():
        other_path = post(f"/api/v1/sites/{site.pk}/deactivate", {"reason": "x"}, "k-2", headers)
    assert other_path.status_code == 422
    assert other_path.json()["field"] == "Idempotency-Key"
    assert not Site.objects.filter(code="QC-2").exists()


def test_different_users_may_use_the_same_key(make_user):
    from vein2vein.core.choices import Role

    a, b = make_user(Role.ADMIN, username="adm-a"), make_user(Role.ADMIN, username="adm-b")
    assert post("/api/v1/sites", NEW_SITE, "shared", bearer(a)).status_code == 201
    response = post("/api/v1/sites", {**NEW_SITE, "code": "QC-B"}, "shared", bearer(b))
    assert response.status_code == 201
    assert response.get("Idempotent-Replayed") is None
    assert IdempotencyKey.objects.filter(key="shared").count() == 2


@pytest.mark.parametrize("key", ["", "   ", "x" * (idempotency.MAX_KEY_LENGTH + 1)])
def test_empty_or_too_long_key_is_400(admin_user, key):
    headers = bearer(admin_user)
    with nothing_written():
        response = post("/api/v1/sites", NEW_SITE, key, headers)
    assert response.status_code == 400
    assert response.json()["field"] == "Idempotency-Key"


def test_longest_key_is_accepted(admin_user):
    key = "x" * idempotency.MAX_KEY_LENGTH
    assert post("/api/v1/sites", NEW_SITE, key, bearer(admin_user)).status_code == 201


def test_without_the_header_nothing_changes(admin_user):
    headers = bearer(admin_user)
    assert post("/api/v1/sites", NEW_SITE, None, headers).status_code == 201
    assert post("/api/v1/sites", NEW_SITE, None, headers).status_code == 400  # code taken
    assert not IdempotencyKey.objects.exists()


def test_a_refused_request_stores_no_key_and_a_retry_runs_again(operator, admin_user):
    headers = bearer(operator)
    with nothing_written():
        refused = post("/api/v1/sites", NEW_SITE, "k-3", headers)
    assert refused.status_code == 403
    assert not IdempotencyKey.objects.exists()
    again = post("/api/v1/sites", NEW_SITE, "k-3", headers)
    assert again.status_code == 403 and again.get("Idempotent-Replayed") is None


def test_unauthenticated_request_with_a_key_is_401_first(db):
    response = post("/api/v1/sites", NEW_SITE, "", {})
    assert response.status_code == 401


def test_reads_ignore_the_header(admin_user):
    response = Client().get("/api/v1/sites", HTTP_IDEMPOTENCY_KEY="", **bearer(admin_user))
    assert response.status_code == 200


def test_key_row_rolls_back_with_the_write(admin_user):
    """The key is inserted inside the write's transaction: a failure after it undoes both."""

    def explode(sender, instance, created, **kw):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    headers = bearer(admin_user)
    post_save.connect(explode, sender=AuditEvent, dispatch_uid="test-explode")
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            post("/api/v1/sites", NEW_SITE, "k-4", headers)
    finally:
        post_save.disconnect(dispatch_uid="test-explode", sender=AuditEvent)
    assert not IdempotencyKey.objects.exists()
    assert not Site.objects.filter(code="QC-LAB").exists()
    # Nothing was kept, so the retry is applied (once).
    assert post("/api/v1/sites", NEW_SITE, "k-4", headers).status_code == 201
    assert post("/api/v1/sites", NEW_SITE, "k-4", headers)["Idempotent-Replayed"] == "true"


def test_killed_after_commit_retry_is_told_it_was_applied_not_applied_twice(
    admin_user, monkeypatch
):
    """kill -9 between the service's commit and the answer: the key row is already stored
    (same transaction as the write), so the retry names the record instead of duplicating."""
    headers = bearer(admin_user)
    monkeypatch.setattr(idempotency, "_record_response", lambda pending, response: None)
    assert post("/api/v1/sites", NEW_SITE, "k-5", headers).status_code == 201
    monkeypatch.undo()
    stored = IdempotencyKey.objects.get(key="k-5")
    assert stored.status_code == idempotency.PENDING
    with nothing_written():
        retry = post("/api/v1/sites", NEW_SITE, "k-5", headers)
    assert retry.status_code == 409
    assert retry.json()["field"] == "Idempotency-Key"
    site = Site.objects.get(code="QC-LAB")
    assert f"core.site {site.pk}" in retry.json()["detail"]
    assert Site.objects.filter(code="QC-LAB").count() == 1


def test_interlock_refusal_is_replayed_not_recorded_twice(admin_user, site, monkeypatch):
    """A refusal that wrote its blocked-attempt event is an answer too: replayed, once."""
    from vein2vein.core import audit
    from vein2vein.core.errors import InterlockBlocked

    def refuse(**kwargs):  # type: ignore[no-untyped-def]
        audit.record_blocked_attempt(
            actor=kwargs["actor"], action="site.created", record=("core.site", "-"), reason="no"
        )
        raise InterlockBlocked("blocked for the test")

    monkeypatch.setattr(services, "create_site", refuse)
    headers = bearer(admin_user)
    first = post("/api/v1/sites", NEW_SITE, "k-6", headers)
    assert first.status_code == 409
    events = AuditEvent.objects.count()
    with nothing_written():
        again = post("/api/v1/sites", NEW_SITE, "k-6", headers)
    assert again.status_code == 409 and again["Idempotent-Replayed"] == "true"
    assert AuditEvent.objects.count() == events


def test_token_creation_refuses_the_header_its_answer_is_a_secret(operator):
    client = Client()
    client.force_login(operator)
    with nothing_written():
        response = client.post(
            "/api/v1/tokens",
            json.dumps({"name": "t"}),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k-7",
        )
    assert response.status_code == 400
    assert response.json()["field"] == "Idempotency-Key"


def test_request_hash_is_keyed_not_a_plain_sha256(admin_user):
    import hashlib

    post("/api/v1/sites", NEW_SITE, "k-8", bearer(admin_user))
    stored = IdempotencyKey.objects.get(key="k-8")
    plain = hashlib.sha256(json.dumps(NEW_SITE).encode()).hexdigest()
    assert stored.request_hash != plain and len(stored.request_hash) == 64


@pytest.mark.django_db(transaction=True)
def test_committed_write_and_key_survive_together(admin_user):
    """Outside a test transaction: the key row is committed with the write, then answered."""
    headers = bearer(admin_user)
    first = post("/api/v1/sites", NEW_SITE, "k-9", headers)
    assert first.status_code == 201
    stored = IdempotencyKey.objects.get(key="k-9")
    assert stored.status_code == 201
    again = post("/api/v1/sites", NEW_SITE, "k-9", headers)
    assert again["Idempotent-Replayed"] == "true"
    assert Site.objects.filter(code="QC-LAB").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_write_once(admin_user):
    """Two requests with one key in flight together: the second cannot see the first's key yet
    and runs its service, but its write waits on the audit-chain lock, then finds the key and
    rolls back (409 naming the header). One write, never two."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: two connections writing at once")
    headers = bearer(admin_user)
    inside, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def hold(sender, instance, created, **kw):  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "first" and instance.action == "site.created":
            inside.set()  # the first request's key row is inserted, not committed
            release.wait(20)

    def run(body: dict) -> None:
        try:
            results[threading.current_thread().name] = post("/api/v1/sites", body, "one", headers)
        finally:
            connections.close_all()

    post_save.connect(hold, sender=AuditEvent, dispatch_uid="test-hold")
    try:
        first = threading.Thread(target=run, name="first", args=(NEW_SITE,))
        first.start()
        assert inside.wait(20)
        second = threading.Thread(
            target=run, name="second", args=({**NEW_SITE, "code": "QC-LAB2"},)
        )
        second.start()
        second.join(2)  # it gets as far as the audit-chain lock the first one holds
        release.set()
        first.join(20)
        second.join(20)
    finally:
        release.set()
        post_save.disconnect(dispatch_uid="test-hold", sender=AuditEvent)
    a, b = results["first"], results["second"]
    assert a.status_code == 201, a.content  # type: ignore[attr-defined]
    assert b.status_code == 409, b.content  # type: ignore[attr-defined]
    assert b.json()["field"] == "Idempotency-Key"  # type: ignore[attr-defined]
    assert Site.objects.filter(code__in=["QC-LAB", "QC-LAB2"]).count() == 1
    assert IdempotencyKey.objects.filter(key="one").count() == 1
