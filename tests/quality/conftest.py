"""Quality fixtures: one person per role at the test site."""

from __future__ import annotations

import pytest

from vein2vein.core.choices import Role
from vein2vein.core.models import User


@pytest.fixture
def supervisor(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.SUPERVISOR, username="super1", full_name="Sofia Supervisor")


@pytest.fixture
def qa_approver(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.QA_APPROVER, username="qaa1", full_name="Amara Approver")


@pytest.fixture
def qa_approver2(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.QA_APPROVER, username="qaa2", full_name="Bea Approver")


@pytest.fixture
def operator2(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.OPERATOR, username="operator2", full_name="Omar Operator")
