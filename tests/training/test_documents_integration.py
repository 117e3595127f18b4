"""The acceptance line end to end, with the documents app's own services making versions
effective (their hook calls training's receiver inside their transaction)."""

from __future__ import annotations

import io

from django.core.files import File

from tests.conftest import PASSWORD
from vein2vein.core.audit import verify_chain
from vein2vein.documents import services as documents
from vein2vein.documents.pdf import minimal_pdf
from vein2vein.training import services
from vein2vein.training.models import TrainingAssignment
from vein2vein.training.selectors import is_qualified


def _release(author, reviewer, approver, document, n: int):  # type: ignore[no-untyped-def]
    pdf = File(io.BytesIO(minimal_pdf(f"{document.number} v{n}", ["Step 1"])), name=f"v{n}.pdf")
    version = documents.create_version(
        actor=author, document=document, change_summary=f"Issue {n}", file=pdf
    )
    documents.submit_for_review(actor=author, version_id=version.pk)
    documents.review_version(actor=reviewer, version_id=version.pk, password=PASSWORD)
    documents.approve_version(actor=approver, version_id=version.pk, password=PASSWORD)
    version.refresh_from_db()
    if version.status == "approved":  # effective at once when no later date is set
        documents.make_effective(actor=approver, version_id=version.pk)
        version.refresh_from_db()
    assert version.status == "effective"
    return version


def test_effective_version_through_documents_assigns_and_gates(
    operator, supervisor, qa_reviewer, qa_approver
):
    document = documents.create_document(
        actor=supervisor, kind="sop", title="T-cell activation and transduction"
    )
    _release(supervisor, qa_reviewer, qa_approver, document, 1)
    curriculum = services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    services.add_curriculum_document(
        actor=supervisor, curriculum_id=curriculum.pk, document_number=document.number
    )
    first = TrainingAssignment.objects.get(trainee=operator)
    services.sign_assignment(actor=operator, assignment_id=first.pk, password=PASSWORD)
    assert is_qualified(operator, [document.number])

    v2 = _release(supervisor, qa_reviewer, qa_approver, document, 2)
    result = is_qualified(operator, [document.number])
    assert result.missing == [f"{document.number} v2 not read"]
    second = TrainingAssignment.objects.get(trainee=operator, document_version=v2)
    assert second.assigned_by == qa_approver

    services.sign_assignment(actor=operator, assignment_id=second.pk, password=PASSWORD)
    assert is_qualified(operator, [document.number])
    assert verify_chain().ok
