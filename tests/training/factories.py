"""Set-up rows for the training tests. Documents are made directly on their models (the
documents app's services are not what is under test here); training rows go through services."""

from __future__ import annotations

import datetime as dt

import factory
from django.db import transaction
from django.utils import timezone

from tests.core.factories import UserFactory
from vein2vein.core import hooks
from vein2vein.core.models import User
from vein2vein.documents.choices import VersionStatus
from vein2vein.documents.models import Document, DocumentVersion


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document
        django_get_or_create = ("number",)

    number = factory.Sequence(lambda n: f"SOP-{n + 100:04d}")
    title = factory.LazyAttribute(lambda o: f"Procedure {o.number}")
    kind = "sop"
    owner = factory.SubFactory(UserFactory, username="doc-owner")
    created_at = factory.LazyFunction(timezone.now)


class DocumentVersionFactory(factory.django.DjangoModelFactory):
    """An effective version by default (what the documents app makes when QA approves)."""

    class Meta:
        model = DocumentVersion

    document = factory.SubFactory(DocumentFactory)
    version = 1
    status = VersionStatus.EFFECTIVE
    change_summary = "First issue"
    file_sha256 = factory.Sequence(lambda n: f"{n:064x}")
    created_by = factory.LazyAttribute(lambda o: o.document.owner)
    created_at = factory.LazyFunction(timezone.now)
    approved_at = factory.LazyFunction(timezone.now)
    effective_at = factory.LazyFunction(timezone.now)


def make_effective(
    document: Document, actor: User | None = None, at: dt.datetime | None = None
) -> DocumentVersion:
    """A new version of `document` becomes effective, as the documents service does it: the
    previous one is superseded and the hook is emitted inside the same transaction."""
    when = at or timezone.now()
    with transaction.atomic():
        last = document.versions.order_by("-version").first()
        document.versions.filter(status=VersionStatus.EFFECTIVE).update(
            status=VersionStatus.SUPERSEDED, retired_at=when
        )
        version = DocumentVersionFactory(
            document=document,
            version=(last.version + 1) if last else 1,
            effective_at=when,
            approved_at=when,
        )
        hooks.emit(hooks.DOCUMENT_VERSION_EFFECTIVE, version=version, actor=actor)
    return version
