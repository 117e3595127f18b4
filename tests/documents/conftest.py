"""Document fixtures: the people (author, reviewer, approver) and versions at each stage,
made through the services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from tests.conftest import PASSWORD
from tests.core.helpers import nothing_written
from tests.documents.factories import pdf_upload
from vein2vein.core import hooks
from vein2vein.core.choices import Role
from vein2vein.core.models import NumberSequence, User
from vein2vein.documents import services
from vein2vein.documents.models import (
    Document,
    DocumentVersion,
    PeriodicReview,
)
from vein2vein.documents.services import _common

DOC_MODELS = (Document, DocumentVersion, PeriodicReview, NumberSequence)


def unchanged() -> AbstractContextManager[None]:
    """nothing_written over the core tables and every document table."""
    return nothing_written(*DOC_MODELS)


@pytest.fixture
def author(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.SUPERVISOR, username="sofia", full_name="Sofia Supervisor")


@pytest.fixture
def reviewer(qa_reviewer) -> User:  # type: ignore[no-untyped-def]
    return qa_reviewer


@pytest.fixture
def approver(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.QA_APPROVER, username="amara", full_name="Amara Approver")


@pytest.fixture
def draft(author) -> DocumentVersion:  # type: ignore[no-untyped-def]
    return services.draft_new_document(
        actor=author,
        kind="sop",
        title="Aseptic gowning",
        change_summary="Initial issue",
        file=pdf_upload("gowning.pdf"),
    )


@pytest.fixture
def in_review(draft, author) -> DocumentVersion:  # type: ignore[no-untyped-def]
    return services.submit_for_review(actor=author, version_id=draft.pk)


@pytest.fixture
def reviewed(in_review, reviewer) -> DocumentVersion:  # type: ignore[no-untyped-def]
    return services.review_version(actor=reviewer, version_id=in_review.pk, password=PASSWORD)


@pytest.fixture
def effective(reviewed, approver) -> DocumentVersion:  # type: ignore[no-untyped-def]
    return services.approve_version(actor=approver, version_id=reviewed.pk, password=PASSWORD)


def to_effective(
    version: DocumentVersion, author: User, reviewer: User, approver: User
) -> DocumentVersion:
    services.submit_for_review(actor=author, version_id=version.pk)
    services.review_version(actor=reviewer, version_id=version.pk, password=PASSWORD)
    return services.approve_version(actor=approver, version_id=version.pk, password=PASSWORD)


@pytest.fixture
def set_today(monkeypatch) -> Callable[[dt.date], None]:  # type: ignore[no-untyped-def]
    """set_today(date): the document-control calendar day, for effective and review dates."""

    def set_(day: dt.date) -> None:
        monkeypatch.setattr(_common, "today", lambda: day)

    return set_


@pytest.fixture
def received() -> Iterator[list[dict[str, object]]]:
    """A test receiver on DOCUMENT_VERSION_EFFECTIVE, removed after the test."""
    calls: list[dict[str, object]] = []

    def receiver(**kwargs: object) -> None:
        calls.append(kwargs)

    hooks.on(hooks.DOCUMENT_VERSION_EFFECTIVE)(receiver)
    try:
        yield calls
    finally:
        hooks._receivers[hooks.DOCUMENT_VERSION_EFFECTIVE].remove(receiver)
