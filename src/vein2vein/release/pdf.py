"""The certificate of analysis as a PDF (ReportLab): product, batch, COI identifier, each
release test with its method and version, the specification, result and reviewer, and the
release signature's manifestation (name, date, time with zone, meaning). Standard PDF fonts
only, as in manufacturing/pdf.py: Courier for identifiers and values, Helvetica for prose.

Pure: it reads nothing and writes nothing; `content` (services.certificates) is what it prints.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

MONO = "Courier"
SANS = "Helvetica"
SANS_BOLD = "Helvetica-Bold"
_BODY = ParagraphStyle("body", fontName=SANS, fontSize=9, leading=11.5)
_CELL = ParagraphStyle("cell", parent=_BODY, fontSize=7.5, leading=9)
_H1 = ParagraphStyle("h1", parent=_BODY, fontName=SANS_BOLD, fontSize=14, leading=18)
_H2 = ParagraphStyle(
    "h2", parent=_BODY, fontName=SANS_BOLD, fontSize=10.5, leading=13, spaceBefore=8, spaceAfter=3
)
_GRID = colors.Color(0.6, 0.6, 0.6)
_HEAD_BG = colors.Color(0.88, 0.9, 0.93)
_ASCII = str.maketrans({"→": "->", "≥": ">=", "≤": "<=", "≠": "!=", "\u2212": "-", "…": "..."})


def _plain(value: object) -> str:
    text = "" if value is None else str(value)
    return text.translate(_ASCII).encode("cp1252", "replace").decode("cp1252")


def _t(value: object) -> str:
    return escape(_plain(value)).replace("\n", "<br/>")


def _c(value: object) -> str:
    return f'<font face="{MONO}">{_t(value)}</font>'


def _p(markup: str, style: ParagraphStyle = _CELL) -> Paragraph:
    return Paragraph(markup, style)


def _grid(rows: list[list[Any]], widths: list[float], head: bool = True) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if head else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, _GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    if head:
        style.append(("BACKGROUND", (0, 0), (-1, 0), _HEAD_BG))
    table.setStyle(TableStyle(style))
    return table


def certificate_pdf(content: dict[str, Any]) -> bytes:
    """The PDF of a certificate's content (services.certificates.certificate_content)."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"Certificate of analysis {content['batch']}",
        author="vein2vein",
        invariant=1,
    )
    width = A4[0] - 30 * mm
    story: list[Any] = [
        _p("Certificate of analysis", _H1),
        Spacer(1, 3 * mm),
        _grid(
            [
                [_p("<b>Product</b>"), _p(_t(f"{content['product']} ({content['product_code']})"))],
                [_p("<b>Batch</b>"), _p(_c(content["batch"]))],
                [_p("<b>COI identifier</b>"), _p(_c(content["coi"]))],
                [_p("<b>Manufacturing site</b>"), _p(_t(content["site"]))],
                [_p("<b>Specification</b>"), _p(_t(content["specification"]))],
                [_p("<b>Batch record SHA-256</b>"), _p(_c(content["record_sha256"]))],
            ],
            [45 * mm, width - 45 * mm],
            head=False,
        ),
        _p("Release tests", _H2),
    ]
    rows: list[list[Any]] = [
        [
            _p(f"<b>{h}</b>")
            for h in ("Test", "Method, version", "Specification", "Result", "Reviewer")
        ]
    ]
    for line in content["tests"]:
        rows.append(
            [
                _p(_t(line["test"])),
                _p(_t(line["method_version"])),
                _p(_t(line["criterion"])),
                _p(_c(line["result"] or "-") + ("" if line["in_spec"] else " <b>OUT OF SPEC</b>")),
                _p(_t(f"{line['reviewer'] or '-'}\n{line['reviewed_at'] or ''}")),
            ]
        )
    story.append(_grid(rows, [w * width for w in (0.2, 0.2, 0.22, 0.18, 0.2)]))
    story.append(_p("Disposition", _H2))
    if content.get("exceptional"):
        story.append(
            _p(
                _t(
                    "EXCEPTIONAL RELEASE of an out-of-specification product on the documented "
                    f"request of the treating physician {content['physician_name']} "
                    f"({content['physician_requested_at']}, reference "
                    f"{content['physician_reference']}). QA justification: {content['reason']}"
                ),
                _BODY,
            )
        )
        story.append(Spacer(1, 2 * mm))
    sig = content["signature"]
    story.append(
        _grid(
            [
                [_p("<b>Signed by</b>"), _p(_t(f"{sig['printed_name']} ({sig['username']})"))],
                [_p("<b>Meaning</b>"), _p(_t(sig["meaning"]))],
                [_p("<b>Date, time and zone</b>"), _p(_c(sig["signed_at"]))],
            ],
            [45 * mm, width - 45 * mm],
            head=False,
        )
    )
    story.append(Spacer(1, 4 * mm))
    story.append(
        _p(
            _t(
                f"Certificate version {content['version']}. The signature above is the "
                "electronic signature of the QA approver who released the batch (21 CFR 11.50)."
            ),
            _BODY,
        )
    )
    doc.build(story)
    return out.getvalue()
