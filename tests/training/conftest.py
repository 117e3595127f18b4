"""Training fixtures: a site with an operator curriculum, its documents and qualification types,
built through the training services by a supervisor."""

from __future__ import annotations

import pytest

from tests.training.factories import DocumentFactory, make_effective
from vein2vein.core.choices import Role
from vein2vein.training import services
from vein2vein.training.models import (
    Curriculum,
    CurriculumItem,
    Qualification,
    QualificationType,
    TrainingAssignment,
)

TRAINING_MODELS = (QualificationType, Curriculum, CurriculumItem, TrainingAssignment, Qualification)


@pytest.fixture
def supervisor(make_user):  # type: ignore[no-untyped-def]
    return make_user(Role.SUPERVISOR, username="super1", full_name="Sofia Supervisor")


@pytest.fixture
def supervisor2(make_user):  # type: ignore[no-untyped-def]
    return make_user(Role.SUPERVISOR, username="super2", full_name="Sam Second")


@pytest.fixture
def qa_approver(make_user):  # type: ignore[no-untyped-def]
    return make_user(Role.QA_APPROVER, username="qaa1", full_name="Amara Approver")


@pytest.fixture
def operator2(make_user):  # type: ignore[no-untyped-def]
    return make_user(Role.OPERATOR, username="operator2", full_name="Omar Operator")


@pytest.fixture
def sop1(db):  # type: ignore[no-untyped-def]
    doc = DocumentFactory(number="SOP-0001", title="Aseptic gowning and cleanroom entry")
    make_effective(doc)
    return doc


@pytest.fixture
def sop4(db):  # type: ignore[no-untyped-def]
    doc = DocumentFactory(number="SOP-0004", title="T-cell activation and transduction")
    make_effective(doc)
    return doc


@pytest.fixture
def gowning(supervisor):  # type: ignore[no-untyped-def]
    return services.create_qualification_type(
        actor=supervisor,
        code="ASEPTIC-GOWNING",
        name="Aseptic gowning",
        kind="aseptic",
        validity_months=12,
    )


@pytest.fixture
def aps(supervisor):  # type: ignore[no-untyped-def]
    return services.create_qualification_type(
        actor=supervisor,
        code="APS",
        name="Aseptic process simulation",
        kind="aseptic",
        validity_months=6,
    )


@pytest.fixture
def curriculum(supervisor, sop1, sop4, gowning, aps):  # type: ignore[no-untyped-def]
    """Operators everywhere: SOP-0001 (trainer-led) and SOP-0004 to read; gowning and APS."""
    c = services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    services.add_curriculum_document(
        actor=supervisor, curriculum_id=c.pk, document_number="SOP-0001", trainer_led=True
    )
    services.add_curriculum_document(
        actor=supervisor, curriculum_id=c.pk, document_number="SOP-0004"
    )
    services.add_curriculum_qualification(
        actor=supervisor, curriculum_id=c.pk, qualification_code="ASEPTIC-GOWNING"
    )
    services.add_curriculum_qualification(
        actor=supervisor, curriculum_id=c.pk, qualification_code="APS"
    )
    return c
