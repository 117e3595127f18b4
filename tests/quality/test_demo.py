"""The quality demo: through the services, idempotent, each story in the state it tells."""

from __future__ import annotations

from vein2vein.core.audit import verify_chain
from vein2vein.core.demo import load_demo as load_core_demo
from vein2vein.core.models import AuditEvent, Signature, User
from vein2vein.quality import demo, selectors
from vein2vein.quality.models import Capa, ChangeControl, Deviation


def test_demo_tells_its_stories_and_runs_twice(db):
    load_core_demo()
    demo.load_demo()
    label = Deviation.objects.get(title=demo.LABEL_MISMATCH)
    assert (label.status, label.category, label.raised_by.username) == (
        "open",
        "identity",
        "operator",
    )
    assert label.source_type == "core.site"
    centrifuge = Deviation.objects.get(title=demo.CENTRIFUGE)
    assert centrifuge.status == "under_investigation"
    assert centrifuge.investigator.username == "supervisor"
    closed = Deviation.objects.get(title=demo.OLD_TEMPLATE)
    assert closed.status == "closed" and closed.closed_by.username == "qa_approver"
    capa = Capa.objects.get(deviations=closed)
    assert capa.status == "closed" and capa.checks.get().result == "pass"
    change = ChangeControl.objects.get(title=demo.CHANGE)
    assert change.status == "submitted"
    assert [a.role for a in change.approvals.all()] == ["supervisor"]
    assert (
        Signature.objects.filter(meaning="approved", record_type="quality.deviation").count() == 1
    )
    # Amara (QA approver) finds the change in her queue; Olivia her open deviation.
    amara = User.objects.get(username="qa_approver")
    assert [c.pk for c in selectors.my_open_actions(amara).change_approvals] == [change.pk]
    olivia = User.objects.get(username="operator")
    assert label in selectors.my_open_actions(olivia).deviations

    events = AuditEvent.objects.count()
    demo.load_demo()
    assert AuditEvent.objects.count() == events, "a second run writes nothing"
    assert Deviation.objects.count() == 3
    assert verify_chain().ok
