"""Equipment fixtures: one person per role at the test site, and a controlled protocol."""

from __future__ import annotations

import pytest

from tests.equipment.factories import effective_document
from vein2vein.core.choices import Role
from vein2vein.core.models import User
from vein2vein.documents.models import Document


@pytest.fixture
def supervisor(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.SUPERVISOR, username="super1", full_name="Sofia Supervisor")


@pytest.fixture
def qc(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.QC_ANALYST, username="qc1", full_name="Quentin QC")


@pytest.fixture
def qa_approver(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.QA_APPROVER, username="qaa1", full_name="Amara Approver")


@pytest.fixture
def protocol(db) -> Document:  # type: ignore[no-untyped-def]
    return effective_document("FRM-0101", "Equipment qualification protocol")
