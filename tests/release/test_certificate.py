"""The certificate of analysis: what it prints, its SHA-256 stored, regeneration."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zlib

import pytest
from django.core.files.storage import default_storage

from tests.release.conftest import Line, release, unchanged
from vein2vein.core.audit import verify_chain
from vein2vein.core.errors import Conflict, PermissionRefused
from vein2vein.release import services
from vein2vein.release.models import Certificate

pytestmark = pytest.mark.django_db


def _pdf_text(data: bytes) -> str:
    """The text drawn by ReportLab's canvas: pypdf where installed, else the strings of the
    page streams (ASCII85 and Flate, as ReportLab writes them)."""
    try:
        from pypdf import PdfReader
    except ImportError:
        pass
    else:
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    out: list[str] = []
    for m in re.finditer(
        rb"/Filter \[ /ASCII85Decode /FlateDecode \].*?stream\r?\n(.*?)endstream", data, re.S
    ):
        raw = m.group(1).strip()
        raw = raw.removesuffix(b"~>")
        stream = zlib.decompress(base64.a85decode(raw))
        for s in re.findall(rb"\(((?:[^()\\]|\\.)*)\) Tj", stream):
            out.append(re.sub(rb"\\(.)", rb"\1", s).decode("cp1252"))
    return "\n".join(out)


def _text(cert: Certificate) -> str:
    with default_storage.open(cert.file.name, "rb") as fh:
        data = fh.read()
    assert hashlib.sha256(data).hexdigest() == cert.sha256
    return _pdf_text(data)


def test_the_certificate_prints_every_line_and_stores_its_sha256(mfg, ready_batch) -> None:
    release(mfg, ready_batch)
    cert = services.generate_certificate(actor=mfg.approver, batch_id=ready_batch.pk)
    assert cert.version == 1 and len(cert.sha256) == 64
    text = "".join(_text(cert).split())  # ReportLab draws "<" and "=" as two strings
    b = ready_batch
    for expected in (
        "Certificate of analysis",
        b.master_record.product.code,
        b.number,
        b.coi,
        "SPEC-CD19 v1 (release)",
        "Endotoxin",
        "QCM-ENDO v1",
        "<= 5.0 EU/mL",
        "0.8 EU/mL",
        "Rob Reviewer",
        mfg.approver.printed_name,
        "Released",
        "America/New_York",
    ):
        assert "".join(expected.split()) in text, expected
    assert verify_chain().ok


def test_regenerating_gives_the_stored_pdf_or_a_new_version(mfg, ready_batch, qc_state) -> None:
    release(mfg, ready_batch)
    first = services.generate_certificate(actor=mfg.approver, batch_id=ready_batch.pk)
    with unchanged():
        again = services.generate_certificate(actor=mfg.approver, batch_id=ready_batch.pk)
    assert again.pk == first.pk
    qc_state.lines.append(
        Line("Mycoplasma", "QCM-MYC v1", "Not detected", "Not detected", "in_spec")
    )
    second = services.generate_certificate(actor=mfg.approver, batch_id=ready_batch.pk)
    assert (second.version, Certificate.objects.filter(batch=ready_batch).count()) == (2, 2)
    assert "Mycoplasma" in _text(second)
    first.refresh_from_db()
    assert first.sha256 == hashlib.sha256(default_storage.open(first.file.name).read()).hexdigest()


def test_a_changed_stored_certificate_is_refused_not_replaced(mfg, ready_batch) -> None:
    release(mfg, ready_batch)
    cert = services.generate_certificate(actor=mfg.approver, batch_id=ready_batch.pk)
    with open(default_storage.path(cert.file.name), "ab") as fh:
        fh.write(b"tampered")
    with unchanged(), pytest.raises(Conflict, match="no longer matches its SHA-256"):
        services.generate_certificate(actor=mfg.approver, batch_id=ready_batch.pk)


def test_no_certificate_for_a_batch_not_released(mfg, ready_batch) -> None:
    with unchanged(), pytest.raises(Conflict, match="not released"):
        services.generate_certificate(actor=mfg.approver, batch_id=ready_batch.pk)


def test_an_operator_cannot_issue_a_certificate(mfg, ready_batch) -> None:
    release(mfg, ready_batch)
    with unchanged(), pytest.raises(PermissionRefused):
        services.generate_certificate(actor=mfg.operator, batch_id=ready_batch.pk)
