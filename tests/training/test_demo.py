"""The training demo: through the services, idempotent, and leaving a trained operator and an
untrained one for later batches to refuse."""

from __future__ import annotations

import pytest

from tests.training.factories import DocumentFactory, make_effective
from vein2vein.core.audit import verify_chain
from vein2vein.core.demo import load_demo as load_core_demo
from vein2vein.core.models import AuditEvent, Signature, User
from vein2vein.training import demo
from vein2vein.training.models import Curriculum, TrainingAssignment
from vein2vein.training.selectors import curriculum_status, is_qualified

NUMBERS = (*demo.OPERATOR_DOCUMENTS, *demo.QA_DOCUMENTS)


@pytest.fixture
def demo_world(db):  # type: ignore[no-untyped-def]
    load_core_demo()
    for number in NUMBERS:
        make_effective(DocumentFactory(number=number))
    demo.load_demo()


def test_olivia_is_trained_and_qualified(demo_world):
    olivia = User.objects.get(username="operator")
    assert curriculum_status(olivia).ok
    assert is_qualified(olivia, ["SOP-0004", "APS", "ASEPTIC-GOWNING", "NC-200"])
    gowning_read = TrainingAssignment.objects.get(
        trainee=olivia, document_version__document__number="SOP-0001"
    )
    assert gowning_read.trainer.username == "supervisor"
    assert Signature.objects.filter(signer__username="supervisor", meaning="approved").count() == 4


def test_omar_is_refused_for_sop_0004_and_aps(demo_world):
    omar = User.objects.get(username="operator2")
    assert is_qualified(omar, ["SOP-0004", "APS"]).missing == [
        "SOP-0004 v1 not read",
        "Aseptic process simulation not held",
    ]
    assert is_qualified(omar, ["SOP-0001", "SOP-0003", "ASEPTIC-GOWNING"])


def test_qa_has_its_reads_assigned(demo_world):
    rita = User.objects.get(username="qa")
    assert curriculum_status(rita).missing == ["FRM-0001 v1 not read", "SOP-0007 v1 not read"]
    assert Curriculum.objects.count() == 3


def test_demo_is_idempotent(demo_world):
    events = AuditEvent.objects.count()
    demo.load_demo()
    assert AuditEvent.objects.count() == events
    assert verify_chain().ok


def test_missing_documents_are_skipped_with_a_note(db, capsys):
    load_core_demo()
    make_effective(DocumentFactory(number="SOP-0001"))
    demo.load_demo()
    out = capsys.readouterr().out
    assert "document SOP-0004 is missing" in out
    olivia = User.objects.get(username="operator")
    assert is_qualified(olivia, ["SOP-0001", "APS"])
