"""A deviation's closure signature binds what was attested, not its workflow status."""

from __future__ import annotations

from tests.conftest import PASSWORD
from tests.quality.factories import pending
from vein2vein.core.models import Signature
from vein2vein.core.signing import is_valid
from vein2vein.quality import services
from vein2vein.quality.models import Deviation


def test_the_closure_signature_survives_a_status_change_but_not_an_edited_root_cause(
    supervisor, operator, qa_approver, site
):  # type: ignore[no-untyped-def]
    ready = pending(supervisor, site, raised_by=operator)
    dev = services.close_deviation(
        actor=qa_approver, deviation_id=ready.pk, password=PASSWORD, comment="Addressed"
    )
    sig = Signature.objects.get(record_type="quality.deviation", record_id=str(dev.pk))
    assert is_valid(sig)
    # A later workflow step (a reopening, say) changes the status only.
    Deviation.objects.filter(pk=dev.pk).update(status="under_investigation")
    assert is_valid(sig), "a workflow step must not void the QA approver's signature"
    # Changing what was attested voids it.
    Deviation.objects.filter(pk=dev.pk).update(root_cause="something else entirely")
    assert not is_valid(sig)
