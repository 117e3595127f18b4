"""The PDF: checked at upload, hashed in constant memory, stored, served only when it still
matches its SHA-256, never writable after submission."""

from __future__ import annotations

import hashlib
import io
import os
import stat

import pytest
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.test import Client

from tests.conftest import PASSWORD
from tests.documents.conftest import unchanged
from tests.documents.factories import pdf_bytes, pdf_upload
from vein2vein.core import files
from vein2vein.core.audit import verify_chain
from vein2vein.core.errors import InterlockBlocked, ValidationFailed
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.documents import services
from vein2vein.documents.services import versions as version_services


class ChunkGuard(io.BytesIO):
    """A file that refuses any read larger than one chunk: proof of constant-memory hashing."""

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and 0 <= size <= files.CHUNK_BYTES, f"read({size})"
        return super().read(size)


def big_pdf(megabytes: float = 1.0) -> bytes:
    return b"%PDF-1.4\n" + os.urandom(int(megabytes * 1024 * 1024))


def test_streaming_sha256_matches_hashlib_on_the_real_bytes():
    content = big_pdf(1.3)  # many chunks, the last one short
    checked = files.check_pdf(File(ChunkGuard(content), name="big.pdf"))
    assert checked.sha256 == hashlib.sha256(content).hexdigest()
    assert checked.size == len(content)
    assert checked.original_name == "big.pdf" and checked.stored_name == "big.pdf"


def test_upload_spooled_to_disk_is_hashed_and_stored_intact(author):
    content = big_pdf(0.5)
    upload = TemporaryUploadedFile("Gowning SOP (final).pdf", "application/pdf", len(content), None)
    upload.write(content)
    upload.seek(0)
    version = services.draft_new_document(
        actor=author, kind="sop", title="Big", change_summary="Initial", file=upload
    )
    assert version.file_sha256 == hashlib.sha256(content).hexdigest()
    assert version.file_name == "Gowning SOP (final).pdf"
    path = default_storage.path(version.file.name)
    assert path.startswith(str(settings.MEDIA_ROOT))
    assert version.file.name.startswith("documents/SOP-0001/v1/")
    with open(path, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == version.file_sha256
    created = AuditEvent.objects.get(action="documents.version.created")
    assert created.changes["file_sha256"]["new"] == version.file_sha256


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("sop.pdf", b"GIF89a not a pdf", "is not a PDF: it does not start with %PDF-"),
        ("sop.pdf", b"", "is not a PDF"),
        ("sop.docx", pdf_bytes(), "must be a PDF \\(name ending in .pdf\\)"),
        ("../../etc/passwd", pdf_bytes(), "must be a PDF"),
        ("x" * 300 + ".pdf", pdf_bytes(), "at most 255"),
    ],
)
def test_non_pdf_is_refused_naming_the_field(author, name, content, message):
    with unchanged(), pytest.raises(ValidationFailed, match=message) as exc:
        services.draft_new_document(
            actor=author,
            kind="sop",
            title="X",
            change_summary="Initial",
            file=File(io.BytesIO(content), name=name),
        )
    assert exc.value.field == "file"
    assert not default_storage.exists("documents")


def test_nameless_and_oversized_files_are_refused(author, monkeypatch):
    with unchanged(), pytest.raises(ValidationFailed, match="needs a name") as exc:
        files.check_pdf(File(io.BytesIO(pdf_bytes()), name=""))
    assert exc.value.field == "file"
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 100)
    with unchanged(), pytest.raises(ValidationFailed, match="larger than") as exc:
        services.draft_new_document(
            actor=author, kind="sop", title="X", change_summary="I", file=pdf_upload()
        )
    assert exc.value.field == "file"


def test_stored_name_is_safe_and_short():
    assert files._stored_name("c;rm -rf.pdf") == "crm_-rf.pdf"
    assert len(files._stored_name("y" * 250 + ".pdf")) == files.MAX_NAME_CHARS


# --- serving --------------------------------------------------------------------------------
def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_served_inline_read_only_exactly_as_uploaded(effective, operator):
    response = _client(operator).get(f"/documents/versions/{effective.pk}/file/")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == effective.file_sha256
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('inline; filename="gowning.pdf"')
    assert response["Cache-Control"] == "private, no-store"


def _tamper(version, data: bytes = b"%PDF-1.4 forged") -> None:  # type: ignore[no-untyped-def]
    path = default_storage.path(version.file.name)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    with open(path, "wb") as fh:
        fh.write(data)


def test_tampered_file_is_detected_when_served(effective, operator):
    _tamper(effective)
    response = _client(operator).get(f"/documents/versions/{effective.pk}/file/")
    assert response.status_code == 409
    assert b"no longer matches its SHA-256" in response.content
    assert b"forged" not in response.content
    event = AuditEvent.objects.get(action="documents.version.file_read.blocked")
    assert event.record_id == str(effective.pk) and event.actor == operator
    assert verify_chain().ok


def test_missing_file_is_refused_too(effective, operator):
    os.remove(default_storage.path(effective.file.name))
    response = _client(operator).get(f"/documents/versions/{effective.pk}/file/")
    assert response.status_code == 409


def test_file_changed_while_copying_is_not_served(effective):
    assert files.verified_copy(effective.file.name, "0" * 64) is None
    copy = files.verified_copy(effective.file.name, effective.file_sha256)
    assert copy is not None
    assert hashlib.sha256(copy.read()).hexdigest() == effective.file_sha256


def test_tampered_file_blocks_review(in_review, reviewer):
    _tamper(in_review)
    with pytest.raises(InterlockBlocked, match="no longer matches") as exc:
        services.review_version(actor=reviewer, version_id=in_review.pk, password=PASSWORD)
    assert exc.value.field == "file"
    assert not Signature.objects.exists()
    assert AuditEvent.objects.filter(action="documents.version.file_integrity.blocked").exists()


def test_tampered_file_keeps_a_due_version_approved(author, reviewer, approver, set_today):
    import datetime as dt

    from tests.documents.conftest import to_effective
    from vein2vein.documents.services import _common

    later = _common.today() + dt.timedelta(days=3)
    version = services.draft_new_document(
        actor=author,
        kind="sop",
        title="X",
        change_summary="I",
        file=pdf_upload(),
        effective_date=later,
    )
    to_effective(version, author, reviewer, approver)
    _tamper(version)
    assert services.activate_due_versions(today=later) == []
    version.refresh_from_db()
    assert version.status == "approved"
    assert AuditEvent.objects.filter(action="documents.version.file_integrity.blocked").exists()


# --- never writable after submission --------------------------------------------------------
def test_file_is_read_only_on_disk_after_submission(in_review):
    mode = os.stat(default_storage.path(in_review.file.name)).st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_draft_pdf_can_be_replaced_and_the_old_one_stays(draft, author):
    old_name, old_sha = draft.file.name, draft.file_sha256
    services.update_draft(
        actor=author, version_id=draft.pk, file=pdf_upload("gowning.pdf", pdf_bytes("Rev B"))
    )
    draft.refresh_from_db()
    assert draft.file_sha256 != old_sha and draft.file.name != old_name
    assert default_storage.exists(old_name), "nothing is deleted"
    event = AuditEvent.objects.get(action="documents.version.updated")
    assert event.changes["file_sha256"] == {"old": old_sha, "new": draft.file_sha256}


def test_a_refused_write_leaves_no_file_behind(author, monkeypatch):
    def boom(**kwargs: object) -> None:
        raise ValidationFailed("audit refused", field=None)

    monkeypatch.setattr(version_services.audit, "append_event", boom)
    with pytest.raises(ValidationFailed):
        services.create_version(
            actor=author,
            document=_document(author),
            change_summary="Initial",
            file=pdf_upload("orphan.pdf"),
        )
    monkeypatch.undo()
    found = []
    for _root, _dirs, names in os.walk(settings.MEDIA_ROOT):
        found += [n for n in names if n.startswith("orphan")]
    assert found == []


def _document(author):  # type: ignore[no-untyped-def]
    return services.create_document(actor=author, kind="sop", title="Orphans")
