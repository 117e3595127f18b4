"""`append_event` writes its row with one prepared INSERT instead of Model.save: the stored
row is what was hashed, the save signals still fire, and an unsaved actor is refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import signals

from tests.core.factories import SiteFactory, UserFactory
from vein2vein.core import audit
from vein2vein.core.models import AuditEvent, User
from vein2vein.standards.audit_chain import event_hash

pytestmark = pytest.mark.django_db


def test_the_stored_row_is_what_was_hashed_and_the_signals_fire() -> None:
    site, actor = SiteFactory(), UserFactory()
    seen: list[tuple[str, int | None, bool]] = []

    def pre(sender, instance, **kw):  # type: ignore[no-untyped-def]
        seen.append(("pre", instance.pk, instance._state.adding))

    def post(sender, instance, created, **kw):  # type: ignore[no-untyped-def]
        seen.append(("post", instance.pk, created))

    signals.pre_save.connect(pre, sender=AuditEvent)
    signals.post_save.connect(post, sender=AuditEvent)
    try:
        with transaction.atomic():
            first = audit.append_event(
                actor=actor,
                action="test.one",
                record=site,
                changes={"n": {"old": Decimal("1.50"), "new": dt.date(2026, 1, 2)}, "ü": "ß"},
                reason="why",
            )
            second = audit.append_event(actor=None, action="test.two", record=("x.y", "7"))
    finally:
        signals.pre_save.disconnect(pre, sender=AuditEvent)
        signals.post_save.disconnect(post, sender=AuditEvent)
    assert seen == [
        ("pre", None, True),
        ("post", first.pk, True),
        ("pre", None, True),
        ("post", second.pk, True),
    ]
    assert second.seq == first.seq + 1 and second.prev_hash == first.hash
    for made in (first, second):
        stored = AuditEvent.objects.get(pk=made.pk)
        assert stored.seq == made.seq
        assert event_hash(audit.hashed_content(stored)) == stored.hash == made.hash
        assert stored.changes == made.changes
        assert not made._state.adding
    assert AuditEvent.objects.get(pk=first.pk).changes == {
        "n": {"old": "1.50", "new": "2026-01-02"},
        "ü": "ß",
    }
    assert audit.verify_chain().ok


def test_an_unsaved_actor_is_refused() -> None:
    site = SiteFactory()
    with pytest.raises(ValueError, match="unsaved"), transaction.atomic():
        audit.append_event(actor=User(username="ghost"), action="test.ghost", record=site)
    assert not AuditEvent.objects.filter(action="test.ghost").exists()
