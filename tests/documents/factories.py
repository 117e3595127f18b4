"""Set-up helpers for document tests: PDF uploads and rows made directly (factory_boy) for
read-only checks. The code under test writes through the services."""

from __future__ import annotations

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.core.factories import UserFactory
from vein2vein.documents.choices import DocumentKind, VersionStatus
from vein2vein.documents.models import Document, DocumentVersion
from vein2vein.documents.pdf import minimal_pdf


def pdf_bytes(title: str = "SOP test", *lines: str) -> bytes:
    return minimal_pdf(title, lines or ("Body line",))


def pdf_upload(name: str = "sop.pdf", content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, pdf_bytes() if content is None else content, content_type="application/pdf"
    )


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    number = factory.Sequence(lambda n: f"SOP-{9000 + n:04d}")
    title = factory.Sequence(lambda n: f"Factory SOP {n}")
    kind = DocumentKind.SOP
    owner = factory.SubFactory(UserFactory)
    created_at = factory.LazyFunction(timezone.now)


class DocumentVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DocumentVersion

    document = factory.SubFactory(DocumentFactory)
    version = factory.Sequence(lambda n: n + 1)
    status = VersionStatus.DRAFT
    change_summary = "Initial issue"
    created_by = factory.SelfAttribute("document.owner")
    created_at = factory.LazyFunction(timezone.now)
