"""The executed batch record as a PDF (issue 6): every step and entry, limits, who and when,
signatures with their manifestation, corrections, deviations, and the record's SHA-256."""

from __future__ import annotations

import base64
import contextlib
import io
import re
import shutil
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from tests.manufacturing.conftest import PASSWORD, Mfg, run
from vein2vein.core.audit import verify_chain
from vein2vein.core.models import AuditEvent
from vein2vein.manufacturing import selectors, services
from vein2vein.manufacturing.models import Batch, StepEntry
from vein2vein.manufacturing.pdf import batch_record_pdf

LOW = {"value": "40000000", "comment": "Low yield; continue (supervisor informed)"}


class Printed:
    """The PDF's text, compared without whitespace: extractors differ in where they put it
    (line ends inside table cells, font changes within a line)."""

    def __init__(self, text: str) -> None:
        self.squashed = "".join(text.split())

    def __contains__(self, needle: str) -> bool:
        return "".join(needle.split()) in self.squashed

    def count(self, needle: str) -> int:
        return self.squashed.count("".join(needle.split()))


def pdf_text(data: bytes, tmp_path: Path) -> Printed:
    """poppler's pdftotext, else pypdf, else the strings the page streams show (ReportLab
    writes each line as literal strings in ASCII85 + Flate streams)."""
    if shutil.which("pdftotext"):
        path = tmp_path / "record.pdf"
        path.write_bytes(data)
        out = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
        ).stdout.decode("utf-8")
    else:
        try:
            from pypdf import PdfReader
        except ImportError:
            out = _raw_strings(data)
        else:
            out = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return Printed(out)


def _unescape(literal: bytes) -> bytes:
    def one(m: re.Match[bytes]) -> bytes:
        code = m.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8)])
        return {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(code, code)

    return re.sub(rb"\\([0-7]{1,3}|.)", one, literal, flags=re.S)


def _raw_strings(data: bytes) -> str:
    parts: list[str] = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        body = stream.strip()
        if body.endswith(b"~>"):
            body = base64.a85decode(body[:-2])
        with contextlib.suppress(zlib.error):
            body = zlib.decompress(body)
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", body, re.S):
            parts.append(_unescape(literal).decode("cp1252", "replace"))
    return " ".join(parts)


@pytest.fixture
def executed(mfg: Mfg, batch: Batch) -> Batch:
    """Every step recorded, the cell count below its action limit with a comment (a
    deviation) and verified by a second person, the note corrected, completed and QA-reviewed."""
    entries = run(mfg, batch, cells=LOW)
    assert entries["cells"].flag == "action" and entries["cells"].deviation
    assert entries["cells"].verified_by == mfg.verifier
    services.correct_entry(
        actor=mfg.operator,
        entry_id=entries["branch_a"].pk,
        reason="Wrote the wrong bag's note",
        value="bag intact, no clumps",
    )
    services.complete_batch(actor=mfg.operator, batch_id=batch.pk)
    services.review_batch(actor=mfg.qa, batch_id=batch.pk, password=PASSWORD, comment="OK")
    batch.refresh_from_db()
    return batch


def test_the_pdf_carries_the_executed_record(mfg: Mfg, executed: Batch, tmp_path: Path) -> None:
    b = executed
    events = AuditEvent.objects.count()
    data = batch_record_pdf(b, printed_by=mfg.qa)
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert AuditEvent.objects.count() == events  # printing writes nothing
    text = pdf_text(data, tmp_path)

    # Header on every page: batch, COI, product, MBR number and version, page X of Y, printer.
    version = b.master_record.document_version
    pages = int(re.search(r"Page1of(\d+)", text.squashed).group(1))  # type: ignore[union-attr]
    for page in range(1, pages + 1):
        assert f"Page {page} of {pages}" in text
    assert text.count(f"Batch {b.number}") >= pages
    assert text.count(f"COI {b.coi}") >= pages
    assert text.count(f"MBR {version.document.number} v{version.version}") == pages
    assert "CD19-CART" in text
    assert text.count("by Rita Reviewer (qarev)") == pages
    assert " UTC by " in text

    # The record's hash, as the system computes it, and the MBR's.
    assert f"Record SHA-256 {selectors.record_sha256(b)}" in text
    assert b.master_record.definition_sha256 in text
    assert "QA reviewed, to disposition" in text

    # Steps: value, unit, limits, flag, comment, who and when (zone with abbreviation and offset).
    cells = StepEntry.objects.get(batch=b, step_key="cells")
    assert "40000000 cells" in text
    assert "Alert >= 100000000 cells" in text and "Action >= 50000000 cells" in text
    assert "Outside action limits" in text
    assert LOW["comment"] in text
    assert "Olivia Operator (op)" in text and "Victor Verifier (ver)" in text
    zone = b.site.time_zone
    stamp = rf"\d\d:\d\d:\d\d[A-Z+\-0-9]+\(UTC[+-]\d\d:\d\d,{zone}\)"  # zone abbreviation
    assert re.search(stamp, text.squashed)
    # Material lot, equipment, sample number and label.
    assert "Lot LOT-R1" in text and "Part MAT-T01" in text and "Expiry" in text
    assert "Equipment BSC-01" in text
    sample = selectors.samples_of(b).get()
    assert sample.number in text and f"Label: {sample.label_text}" in text

    # The correction: the old value struck and marked, the reason, the new value.
    old = StepEntry.objects.get(batch=b, step_key="branch_a", status="superseded")
    new = old.corrected_by  # type: ignore[attr-defined]
    assert "all well" in text and "bag intact, no clumps" in text
    assert f"SUPERSEDED by #{new.seq} — reason: Wrote the wrong bag's note" in text
    assert f"Corrects #{old.seq} — reason: Wrote the wrong bag's note" in text

    # Signatures with their manifestation: printed name, meaning, date, time and zone.
    found = selectors.signatures_of([b, cells])
    review = found[("manufacturing.batch", str(b.pk))][0]
    verified = found[("manufacturing.stepentry", str(cells.pk))][0]
    for m in (review, verified):
        assert f"{m.printed_name} ({m.username}) {m.meaning}" in text
        assert m.signed_at in text
    assert "Verified" in verified.meaning or "verif" in verified.meaning.lower()

    # The deviation raised, with its status; the review-by-exception list.
    assert cells.deviation
    [dev] = [x.deviation for x in selectors.review_exceptions(b) if x.kind == "deviation"]
    assert dev is not None and dev.number == cells.deviation
    assert f"{dev.number} {dev.title} {dev.get_status_display()}" in text
    assert "Review by exception" in text and "outside action limits" in text

    # Never the patient's name or date of birth: the batch shows only the COI identifier.
    patient = b.order.patient
    dob = patient.date_of_birth
    for secret in (
        patient.given_name,
        patient.family_name,
        f"{dob:%Y-%m-%d}",
        f"{dob:%Y%m%d}",
        f"{dob:%d.%m.%Y}",
        f"{dob:%m/%d/%Y}",
        f"{dob:%d %b %Y}",
    ):
        assert secret not in text
    assert verify_chain().ok


def test_an_in_progress_correction_awaits_its_verifier(
    mfg: Mfg, batch: Batch, tmp_path: Path
) -> None:
    cells = run(mfg, batch, until="vector")["cells"]
    new = services.correct_entry(
        actor=mfg.operator, entry_id=cells.pk, reason="Transposed digits", value="210000000"
    )
    text = pdf_text(batch_record_pdf(batch, printed_by=mfg.operator), tmp_path)
    assert "In progress" in text and "by Olivia Operator (op)" in text
    assert f"SUPERSEDED by #{new.seq} — reason: Transposed digits" in text
    assert f"Corrects #{cells.seq} — reason: Transposed digits" in text
    assert "120000000 cells" in text and "210000000 cells" in text
    assert "AWAITING VERIFICATION" in text  # the corrected value waits for its verifier
    assert "not recorded" in text  # later steps
    # The old entry's verification stays with it, printed with its manifestation.
    cells.refresh_from_db()
    [m] = selectors.signatures_of([cells])[("manufacturing.stepentry", str(cells.pk))]
    assert f"Entry #{cells.seq} cells Victor Verifier (ver) {m.meaning} {m.signed_at}" in text


def test_a_signature_over_changed_content_prints_no_longer_valid(
    mfg: Mfg, batch: Batch, tmp_path: Path
) -> None:
    cells = run(mfg, batch, until="vector")["cells"]
    text = pdf_text(batch_record_pdf(batch, printed_by=mfg.qa), tmp_path)
    [m] = selectors.signatures_of([cells])[("manufacturing.stepentry", str(cells.pk))]
    assert m.valid and f"{m.signed_at} valid" in text
    signed = selectors.record_sha256(batch)
    # Set-up: the verified entry changed outside the services (what the flag is there to show).
    StepEntry.objects.filter(pk=cells.pk).update(comment="edited in the database")
    changed = selectors.record_sha256(batch)
    assert changed != signed
    text = pdf_text(batch_record_pdf(batch, printed_by=mfg.qa), tmp_path)
    assert f"{m.signed_at} NO LONGER VALID: the record changed after signing" in text
    assert f"Record SHA-256 {changed}" in text and signed not in text


def test_rendering_is_fast_and_its_queries_do_not_grow_with_the_steps(
    mfg: Mfg, executed: Batch, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    """~0.4 s for the demo MBR's 47 entries on a loaded 2-core machine; this record has 15."""
    with django_assert_max_num_queries(15):
        batch_record_pdf(executed, printed_by=mfg.qa)
    started = time.perf_counter()
    for _ in range(3):
        batch_record_pdf(executed, printed_by=mfg.qa)
    assert (time.perf_counter() - started) / 3 < 1.0
