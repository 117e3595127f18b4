"""The demo documents: the SOPs training's demo relies on, effective with both signatures,
and SOP-0004 v2 waiting for QA. Loading twice changes nothing."""

from __future__ import annotations

import pytest

from vein2vein.core.audit import verify_chain
from vein2vein.core.demo import load_demo as load_core_demo
from vein2vein.core.files import stored_sha256
from vein2vein.core.models import AuditEvent, Signature, User
from vein2vein.core.signing import is_valid
from vein2vein.documents import selectors
from vein2vein.documents.demo import DOCUMENTS, load_demo
from vein2vein.documents.models import Document, DocumentVersion

EXPECTED = {
    "SOP-0001": "Aseptic gowning and cleanroom entry",
    "SOP-0002": "Receipt and accessioning of apheresis material",
    "SOP-0003": "CD4/CD8 selection on the closed-system processor",
    "SOP-0004": "T-cell activation and lentiviral transduction",
    "SOP-0005": "Cell expansion, harvest and formulation",
    "SOP-0006": "Controlled-rate freezing and LN2 storage",
    "SOP-0007": "Deviation and CAPA management",
    "WI-0001": "Viable cell count on the NucleoCounter NC-200",
    "FRM-0001": "Batch record review checklist",
}


@pytest.fixture
def demo(db):  # type: ignore[no-untyped-def]
    load_core_demo()
    load_demo()


def test_demo_documents_are_effective_with_both_signatures(demo):
    assert {d.number: d.title for d in DOCUMENTS} == EXPECTED
    assert dict(Document.objects.values_list("number", "title")) == EXPECTED
    qa, approver = User.objects.get(username="qa"), User.objects.get(username="qa_approver")
    for number in EXPECTED:
        document = selectors.get_document(number)
        assert document is not None
        version = selectors.effective_version(document)
        assert version is not None and version.version == 1, number
        assert stored_sha256(version.file.name) == version.file_sha256
        with version.file.open("rb") as fh:
            assert fh.read(5) == b"%PDF-"
        sigs = Signature.objects.filter(
            record_type="documents.documentversion", record_id=str(version.pk)
        )
        assert {(s.meaning, s.signer_id) for s in sigs} == {
            ("reviewed", qa.pk),
            ("approved", approver.pk),
        }
        assert all(is_valid(s, version) for s in sigs)


def test_sop_0004_has_a_version_in_review_for_qa(demo):
    v2 = DocumentVersion.objects.get(document__number="SOP-0004", version=2)
    assert v2.status == "in_review" and v2.file_sha256
    qa = User.objects.get(username="qa")
    assert v2 in selectors.awaiting_my_review(qa)


def test_demo_is_idempotent(demo):
    events = AuditEvent.objects.count()
    load_demo()
    assert AuditEvent.objects.count() == events
    assert DocumentVersion.objects.count() == len(EXPECTED) + 1
    assert verify_chain().ok


def test_demo_pdfs_are_well_formed(demo):
    """Each xref offset points at its object, and startxref at the xref table."""
    version = DocumentVersion.objects.get(document__number="SOP-0001", version=1)
    with version.file.open("rb") as fh:
        data = fh.read()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    startxref = int(data.rsplit(b"startxref", 1)[1].split()[0])
    assert data[startxref:].startswith(b"xref")
    rows = data[startxref:].split(b"\n")[3:9]
    for number, row in enumerate(rows, start=1):
        offset = int(row.split()[0])
        assert data[offset:].startswith(b"%d 0 obj" % number)
    assert b"SOP-0001 Aseptic gowning and cleanroom entry" in data
