"""Master batch records through the services: the import checks every reference against the
database (naming the YAML path), and an MBR document's file is its YAML, never a PDF (while
other documents take PDFs only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.files.base import ContentFile

from tests.documents.factories import pdf_upload
from tests.manufacturing.conftest import TEST_MBR, Mfg, unchanged
from vein2vein.core.errors import ValidationFailed
from vein2vein.documents import services as documents
from vein2vein.documents.models import Document, DocumentVersion
from vein2vein.manufacturing import services
from vein2vein.manufacturing.models import MasterRecord


@contextmanager
def nothing_drafted() -> Iterator[None]:
    """No document, version or master record written (and nothing else: `unchanged`)."""
    with unchanged():
        before = (Document.objects.count(), DocumentVersion.objects.count())
        yield
        assert (Document.objects.count(), DocumentVersion.objects.count()) == before


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        pytest.param("product: CD19-CART", "product: CD22-CART", "product", id="product"),
        pytest.param(
            "equipment_kind: biosafety_cabinet",
            "equipment_kind: toaster",
            "operations[0].steps[1].equipment_kind",
            id="equipment-kind",
        ),
        pytest.param(
            "part: MAT-T01",
            "part: MAT-X99",
            "operations[0].steps[2].part",
            id="part",
        ),
        pytest.param(
            "requires: [TEST-APS]",
            "requires: [NO-SUCH-COURSE]",
            "operations[0].steps[3].requires",
            id="requirement",
        ),
    ],
)
def test_an_unknown_reference_is_refused_naming_its_path(
    mfg: Mfg, old: str, new: str, path: str
) -> None:
    text = TEST_MBR.replace(old, new, 1)
    assert text != TEST_MBR
    with nothing_drafted(), pytest.raises(ValidationFailed) as caught:
        services.import_master_record(
            actor=mfg.w.supervisor, yaml_text=text, change_summary="x", title="Bad MBR"
        )
    assert caught.value.field == "file"
    name = new.split(": ", 1)[1].strip("[]")
    assert name in caught.value.message, caught.value.message
    assert path in caught.value.message, caught.value.message
    # The authoring page's check says the same, writing nothing either.
    with nothing_drafted(), pytest.raises(ValidationFailed) as checked:
        services.validate_mbr(text=text)
    assert checked.value.message == caught.value.message


def test_validate_writes_nothing_and_import_drafts_a_version(mfg: Mfg) -> None:
    with nothing_drafted():
        definition = services.validate_mbr(text=TEST_MBR)
    assert definition == mfg.mbr.definition
    mr = services.import_master_record(
        actor=mfg.w.supervisor,
        yaml_text=TEST_MBR.encode(),
        change_summary="Second document",
        title="Another MBR",
    )
    version = mr.document_version
    assert (version.status, version.document.kind) == ("draft", "master_batch_record")
    assert version.file_name.endswith(".yaml")
    assert (mr.file_sha256, mr.step_count) == (version.file_sha256, 14)
    assert mr.definition_sha256 == mfg.mbr.definition_sha256


def test_an_mbr_version_whose_file_is_a_pdf_is_not_submitted(mfg: Mfg) -> None:
    version = documents.draft_new_document(
        actor=mfg.w.supervisor,
        kind="master_batch_record",
        title="Paper MBR",
        change_summary="Scanned from paper",
        file=pdf_upload("mbr.pdf"),
    )
    with nothing_drafted(), pytest.raises(ValidationFailed) as caught:
        documents.submit_for_review(actor=mfg.w.supervisor, version_id=version.pk)
    assert caught.value.field == "file"
    assert "its file must be the YAML MBR, not a PDF" in caught.value.message
    version.refresh_from_db()
    assert version.status == "draft"
    assert not MasterRecord.objects.filter(document_version=version).exists()


@pytest.mark.parametrize("kind", ["sop", "form"])
def test_only_an_mbr_document_takes_a_yaml_file(mfg: Mfg, kind: str) -> None:
    with nothing_drafted(), pytest.raises(ValidationFailed) as caught:
        documents.draft_new_document(
            actor=mfg.w.supervisor,
            kind=kind,
            title="Not an MBR",
            change_summary="First issue",
            file=ContentFile(TEST_MBR.encode(), name="process.yaml"),
        )
    assert caught.value.field == "file"
    assert "must be a PDF" in caught.value.message
