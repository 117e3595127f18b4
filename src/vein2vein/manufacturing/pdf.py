"""The executed batch record as a PDF: every step and entry with its value, unit, limits, flag,
comment, who and when; superseded entries beside their corrections; samples; every signature
with its manifestation; deviations; the review-by-exception list; and the SHA-256 of the record
(selectors.record_sha256) so a printed copy can be checked against the system.

Read-only: it writes nothing (a caller that wants the print audited records that itself). The
patient is named only by the batch's COI identifier: no name, no date of birth. Standard PDF
fonts only (no downloads): Courier for identifiers, hashes and values (0/O and 1/I distinct),
Helvetica for prose. Text those fonts cannot encode is printed with a "?" in its place.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from vein2vein.core.audit import record_ref
from vein2vein.core.models import User
from vein2vein.core.time import format_in_zone, now

from . import selectors
from .choices import EntryStatus, StepKind
from .models import Batch, StepEntry

PAGE = landscape(A4)
MARGIN = 12 * mm
HEADER_HEIGHT = 25 * mm
FOOTER_HEIGHT = 9 * mm
MONO = "Courier"
SANS = "Helvetica"
SANS_BOLD = "Helvetica-Bold"

_BODY = ParagraphStyle("body", fontName=SANS, fontSize=8, leading=10, alignment=TA_LEFT)
_CELL = ParagraphStyle("cell", parent=_BODY, fontSize=7, leading=8.6)
_CELL_BOLD = ParagraphStyle("cellbold", parent=_CELL, fontName=SANS_BOLD)
_H1 = ParagraphStyle("h1", parent=_BODY, fontName=SANS_BOLD, fontSize=13, leading=16)
_H2 = ParagraphStyle(
    "h2", parent=_BODY, fontName=SANS_BOLD, fontSize=10.5, leading=13, spaceBefore=8, spaceAfter=3
)
_GRID = colors.Color(0.6, 0.6, 0.6)
_HEAD_BG = colors.Color(0.88, 0.9, 0.93)
_OLD_BG = colors.Color(0.93, 0.93, 0.93)
_FLAG_BG = colors.Color(1.0, 0.9, 0.85)

# Characters the standard fonts (WinAnsi) lack, printed as their ASCII equivalent.
_ASCII = str.maketrans(
    {"→": "->", "≥": ">=", "≤": "<=", "≠": "!=", "\u2212": "-", "…": "...", "\u00a0": " "}
)


def _plain(value: object) -> str:
    """Text the standard fonts can print: WinAnsi (cp1252), anything else as '?'."""
    text = str(value).translate(_ASCII)
    return text.encode("cp1252", "replace").decode("cp1252")


def _t(value: object) -> str:
    """Prose for a Paragraph: escaped, newlines kept."""
    return escape(_plain(value)).replace("\n", "<br/>")


def _c(value: object) -> str:
    """An identifier, hash or value in Courier (0/O and 1/I distinct)."""
    return f'<font face="{MONO}">{_t(value)}</font>'


def _b(value: object) -> str:
    return f"<b>{_t(value)}</b>"


class _Para(Paragraph):  # type: ignore[misc]
    """A Paragraph that breaks its lines once per width. A table wraps each cell to measure
    rows, again after splitting at a page end, and again to draw it; the line breaks depend only
    on the width, and breaking lines is most of the rendering time."""

    _wrapped_at: float | None = None

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        if self._wrapped_at == availWidth:
            return self.width, self.height
        width, height = super().wrap(availWidth, availHeight)
        self._wrapped_at = availWidth if width else None  # not when it did not fit at all
        return float(width), float(height)


def _p(markup: str, style: ParagraphStyle = _CELL) -> Paragraph:
    return _Para(markup, style)


def _cell(markup: str) -> Paragraph | str:
    """A table cell: a Paragraph (wraps, mixes fonts), or nothing when empty. Paragraphs are
    the bulk of the rendering time, so empty cells get none."""
    return _p(markup) if markup else ""


def _num(value: object) -> str:
    """A number as plain decimal text: no exponent, no trailing zeros."""
    if value is None or value == "":
        return ""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if d == d.to_integral_value():
        return f"{d.quantize(Decimal(1)):f}"
    return f"{d.normalize():f}"


def _when(value: dt.datetime | None, zone: str) -> str:
    return format_in_zone(value, zone) if value is not None else ""


def _stamp(formatted: str) -> str:
    """A formatted time for a narrow cell: date, time and zone abbreviation on one line, the
    UTC offset and zone name on the next."""
    head, sep, tail = formatted.partition(" (")
    return f"{_t(head)}<br/>{_t(sep.strip() + tail)}" if sep else _t(formatted)


def _when_cell(value: dt.datetime | None, zone: str) -> str:
    return _stamp(_when(value, zone))


def _utc(value: dt.datetime) -> str:
    return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def _who(user: User | None) -> str:
    if user is None:
        return ""
    return f"{_t(user.printed_name)} ({_c(user.get_username())})"


# --- cells of the step table -------------------------------------------------------------


def _range(limits: Mapping[str, Any] | None) -> str:
    if not limits:
        return ""
    low, high = limits.get("low"), limits.get("high")
    if low is not None and high is not None:
        return f"{_num(low)} to {_num(high)}"
    if low is not None:
        return f">= {_num(low)}"
    if high is not None:
        return f"<= {_num(high)}"
    return ""


def _limits_cell(entry: StepEntry | None, step: Mapping[str, Any]) -> str:
    """Target, alert and action limits as they were when the entry was made (else the MBR's);
    the specification of a choice; the window of a timer."""
    details = entry.details if entry is not None else {}
    lines: list[str] = []
    limits = details.get("limits")
    if not isinstance(limits, Mapping):
        limits = {k: step[k] for k in ("target", "alert", "action", "range") if step.get(k)}
    unit = step.get("unit") or (entry.unit if entry is not None else "")
    suffix = f" {unit}" if unit else ""
    if limits.get("target") is not None:
        lines.append(f"Target {_c(_num(limits['target']) + suffix)}")
    for name, label in (("alert", "Alert"), ("action", "Action")):
        text = _range(limits.get(name))
        if text:
            lines.append(f"{label} {_c(text + suffix)}")
    if step.get("in_spec"):
        lines.append(f"In spec: {_t(', '.join(step['in_spec']))}")
    stated = details.get("timer")
    timer: Mapping[str, Any] = stated if isinstance(stated, Mapping) else step
    if step.get("kind") == "timer":
        window = _range({"low": timer.get("min_minutes"), "high": timer.get("max_minutes")})
        if window:
            lines.append(f"Window {_c(window + ' min')}")
        if step.get("from_step"):
            lines.append(f"from step {_c(step['from_step'])}")
    return "<br/>".join(lines)


def _value_cell(entry: StepEntry, samples: Mapping[int, list[Any]]) -> str:
    d = entry.details or {}
    number = _num(entry.value_number)
    amount = f"{number} {entry.unit}".strip() if number else ""
    kind = entry.step_kind
    lines: list[str] = []
    if kind == "material":
        lines.append(f"Lot {_c(d.get('lot') or entry.value_text)}")
        if d.get("part"):
            lines.append(f"Part {_c(d['part'])}")
        if d.get("expiry"):
            lines.append(f"Expiry {_c(d['expiry'])}")
        if amount:
            lines.append(f"Qty {_c(amount)}")
    elif kind == "equipment":
        lines.append(f"Equipment {_c(d.get('equipment_id') or entry.value_text)}")
        if d.get("kind"):
            lines.append(_t(str(d["kind"]).replace("_", " ")))
    elif kind == "sample":
        drawn = samples.get(entry.pk, [])
        if drawn:
            for s in drawn:
                void = f" VOID: {_t(s.void_reason)}" if s.voided_at else ""
                lines.append(f"Sample {_c(s.number)}{void}")
                lines.append(f"Label: {_c(s.label_text)}")
        else:
            lines.append(f"Sample {_c(d.get('sample') or entry.value_text)}")
            if d.get("label"):
                lines.append(f"Label: {_c(d['label'])}")
        if amount:
            lines.append(f"Qty {_c(amount)}")
    elif kind == "calculation":
        lines.append(_c(amount))
        if d.get("formula"):
            lines.append(f"= {_c(d['formula'])}")
        inputs = d.get("inputs")
        if isinstance(inputs, Mapping) and inputs:
            lines += [_c(f"{k} = {_num(v)}") for k, v in inputs.items()]
    elif kind == "coi_check":
        lines.append(f"Scanned {_c(entry.value_text)}")
        if "matched" in d:
            lines.append(f"Matched {_c(d['matched'])}")
    elif kind == "label":
        lines.append(_c(entry.value_text))
        if d.get("copies"):
            lines.append(f"{_t(d.get('label_kind', ''))} label, copies {_c(d['copies'])}")
    elif kind == "attachment":
        lines.append(f"File {_t(entry.file_name)}")
        if entry.file_sha256:
            lines.append(f"SHA-256 {_c(entry.file_sha256)}")
    elif kind == "timer":
        lines.append(_c(amount or entry.value_text))
    else:
        if entry.value_text:
            lines.append(_c(entry.value_text))
        if amount:
            lines.append(_c(amount))
        if not lines:
            lines.append("Done")
    return "<br/>".join(line for line in lines if line)


def _flag_cell(entry: StepEntry, zone: str) -> str:
    lines = []
    if entry.flag:
        lines.append(_b(entry.get_flag_display()))
    if entry.deviation:
        lines.append(f"Deviation {_c(entry.deviation)}")
    if entry.is_late:
        lines.append(f"<b>LATE</b>: recorded<br/>{_when_cell(entry.recorded_at, zone)}")
    return "<br/>".join(lines)


# --- the document ------------------------------------------------------------------------


class _Header:
    """What every page carries at the top and bottom."""

    def __init__(self, batch: Batch, printed_by: User, printed_at: dt.datetime, sha: str) -> None:
        mr = batch.master_record
        version = mr.document_version
        product = mr.product
        zone = batch.site.time_zone
        self.title = "Executed batch record"
        self.ids = [
            ("Batch", batch.number),
            ("COI", batch.coi or "-"),
            ("MBR", f"{version.document.number} v{version.version}"),
        ]
        if batch.donor_lot:
            self.ids.insert(2, ("Donor lot", batch.donor_lot))
        self.product = f"Product: {product.name} ({product.code}), process {mr.process_version}"
        self.printed = (
            f"Printed {format_in_zone(printed_at, zone)} = {_utc(printed_at)} "
            f"by {printed_by.printed_name} ({printed_by.get_username()})"
        )
        self.sha = sha


def _canvas_maker(header: _Header) -> Callable[..., Canvas]:
    """A canvas that keeps each page until the end, then stamps header and 'page X of Y'."""

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._stamp(total)
                super().showPage()
            super().save()

        def _stamp(self, total: int) -> None:
            width, height = PAGE
            top = height - MARGIN
            self.saveState()
            self.setFont(SANS_BOLD, 11)
            self.drawString(MARGIN, top - 10, _plain(header.title))
            self.drawRightString(width - MARGIN, top - 10, f"Page {self._pageNumber} of {total}")
            x = MARGIN
            for label, value in header.ids:
                self.setFont(SANS, 9)
                self.drawString(x, top - 24, f"{label} ")
                x += self.stringWidth(f"{label} ", SANS, 9)
                self.setFont(MONO, 9.5)
                self.drawString(x, top - 24, _plain(value))
                x += self.stringWidth(_plain(value), MONO, 9.5) + 14
            self.setFont(SANS, 8.5)
            self.drawString(x, top - 24, _plain(header.product))
            self.setFont(SANS, 8)
            self.drawString(MARGIN, top - 37, _plain(header.printed))
            self.setStrokeColor(colors.black)
            self.setLineWidth(0.6)
            self.line(MARGIN, top - 43, width - MARGIN, top - 43)
            self.setLineWidth(0.3)
            self.line(MARGIN, MARGIN + 12, width - MARGIN, MARGIN + 12)
            self.setFont(SANS, 7)
            self.drawString(MARGIN, MARGIN + 3, "Record SHA-256 ")
            self.setFont(MONO, 7)
            self.drawString(
                MARGIN + self.stringWidth("Record SHA-256 ", SANS, 7), MARGIN + 3, header.sha
            )
            self.setFont(SANS, 7)
            self.drawRightString(
                width - MARGIN, MARGIN + 3, f"{header.ids[0][1]}  page {self._pageNumber}/{total}"
            )
            self.restoreState()

    def make(*args: Any, **kwargs: Any) -> Canvas:
        return NumberedCanvas(*args, **kwargs)

    return make


def _table(
    rows: list[list[Any]],
    widths: list[float],
    extra: Iterable[tuple[Any, ...]] = (),
    head: int = 0,
) -> Table:
    """A grid from row `head` (the column titles, repeated on each page with any row above
    them: a title row spanning the table)."""
    table = Table(rows, colWidths=widths, repeatRows=head + 1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), SANS, 7),
                ("GRID", (0, head), (-1, -1), 0.3, _GRID),
                ("BACKGROUND", (0, head), (-1, head), _HEAD_BG),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                *extra,
            ]
        )
    )
    return table


def _head(*labels: str) -> list[Paragraph]:
    return [_p(_t(label), _CELL_BOLD) for label in labels]


def _scaled(fractions: list[float]) -> list[float]:
    width = PAGE[0] - 2 * MARGIN
    total = sum(fractions)
    return [width * f / total for f in fractions]


STEP_COLUMNS = (
    ("#", 2.6),
    ("Step", 12),
    ("Kind", 6),
    ("Value, unit", 14.5),
    ("Limits", 9.5),
    ("Flag, deviation", 8.5),
    ("Comment", 10),
    ("Performed by, when", 12.5),
    ("Verified by, when", 12.5),
)


def _entry_row(
    e: StepEntry,
    step: Mapping[str, Any],
    zone: str,
    later: Mapping[int, StepEntry],
    samples: Mapping[int, list[Any]],
) -> list[Paragraph | str]:
    value = _value_cell(e, samples)
    if e.status == EntryStatus.SUPERSEDED:
        value = f"<strike>{value}</strike>"
        successor = later.get(e.pk)
        note = (
            f"SUPERSEDED by #{successor.seq} — reason: {_t(successor.correction_reason)}"
            if successor is not None
            else "SUPERSEDED"
        )
        value = f"{value}<br/><b>{note}</b>"
    elif e.corrects_id is not None:
        old = e.corrects
        seq = f"#{old.seq}" if old is not None else "an earlier entry"
        value = f"{value}<br/><b>Corrects {seq} — reason: {_t(e.correction_reason)}</b>"
    title = f"{_c(e.step_key)}<br/>{_t(step.get('title', ''))}"
    performed = f"{_who(e.performed_by)}<br/>{_when_cell(e.performed_at, zone)}"
    if e.verified_by_id is not None:
        verified = f"{_who(e.verified_by)}<br/>{_when_cell(e.verified_at, zone)}"
    elif e.status == EntryStatus.AWAITING_VERIFICATION:
        verified = "<b>AWAITING VERIFICATION</b>"
    else:
        verified = "-" if not step.get("verify") else ""
    return [
        str(e.seq),  # plain strings in Courier / Helvetica (column fonts in the table style)
        _p(title),
        _kind(e.step_kind),
        _p(value),
        _cell(_limits_cell(e, step)),
        _cell(_flag_cell(e, zone)),
        _cell(_t(e.comment)),
        _p(performed),
        _cell(verified),
    ]


def _kind(kind: str) -> str:
    try:
        return str(StepKind(kind).label)
    except ValueError:
        return kind


def _steps_section(
    batch: Batch,
    zone: str,
    states: list[selectors.StepState],
    later: Mapping[int, StepEntry],
    samples: Mapping[int, list[Any]],
) -> list[Any]:
    story: list[Any] = []
    widths = _scaled([w for _, w in STEP_COLUMNS])
    operations: list[tuple[str, str, list[selectors.StepState]]] = []
    for state in states:
        op = state.step["operation"]
        if not operations or operations[-1][0] != op:
            operations.append((op, state.step["operation_title"], []))
        operations[-1][2].append(state)
    for number, (op_key, op_title, op_states) in enumerate(operations, start=1):
        heading = _p(f"{number}. {_t(op_title)} {_c('(' + op_key + ')')}", _H2)
        rows: list[list[Any]] = [
            [heading] + [""] * (len(STEP_COLUMNS) - 1),
            _head(*(label for label, _ in STEP_COLUMNS)),
        ]
        extra: list[tuple[Any, ...]] = [
            ("SPAN", (0, 0), (-1, 0)),
            ("FONT", (0, 2), (0, -1), MONO, 7),
        ]
        for state in op_states:
            for old in state.history:
                extra.append(("BACKGROUND", (0, len(rows)), (-1, len(rows)), _OLD_BG))
                rows.append(_entry_row(old, state.step, zone, later, samples))
            if state.entry is not None:
                if state.entry.flag:
                    extra.append(("BACKGROUND", (5, len(rows)), (5, len(rows)), _FLAG_BG))
                rows.append(_entry_row(state.entry, state.step, zone, later, samples))
            else:
                rows.append(
                    [
                        "",
                        _p(f"{_c(state.key)}<br/>{_t(state.step.get('title', ''))}"),
                        _kind(state.step["kind"]),
                        _p("<i>not recorded</i>" + (" (next)" if state.state == "next" else "")),
                        _cell(_limits_cell(None, state.step)),
                        "",
                        "",
                        "",
                        "",
                    ]
                )
        story += [CondPageBreak(30 * mm), _table(rows, widths, extra, head=1)]
    return story


def _summary(batch: Batch, zone: str, sha: str, progress: tuple[int, int]) -> Table:
    mr = batch.master_record
    version = mr.document_version
    rows: list[tuple[str, str]] = [
        ("Status", _b(batch.get_status_display())),
        ("Site", f"{_c(batch.site.code)} {_t(batch.site.name)}, time zone {_c(zone)}"),
        (
            "Master batch record",
            f"{_c(version.document.number)} version {_c(version.version)}: {_t(mr.title)}, "
            f"process {_c(mr.process_version)}",
        ),
        ("MBR definition SHA-256", _c(mr.definition_sha256)),
        ("MBR file SHA-256", _c(mr.file_sha256)),
        (
            "For",
            f"COI {_c(batch.coi)}" if batch.order_id else f"Donor lot {_c(batch.donor_lot)}",
        ),
        ("Started", f"{_t(_when(batch.started_at, zone))} by {_who(batch.started_by)}"),
    ]
    if (batch.recorded_at - batch.started_at).total_seconds() > 60:
        rows.append(("Start recorded", _t(_when(batch.recorded_at, zone))))
    if batch.hold_reason:
        rows.append(("Hold reason", _t(batch.hold_reason)))
    rows.append(("Completed", _t(_when(batch.completed_at, zone)) or "-"))
    rows.append(("QA reviewed", _t(_when(batch.reviewed_at, zone)) or "-"))
    if batch.review_comment:
        rows.append(("Review comment", _t(batch.review_comment)))
    if batch.aborted_at:
        rows.append(("Aborted", f"{_t(_when(batch.aborted_at, zone))}: {_t(batch.abort_reason)}"))
    rows.append(("Steps done", f"{progress[0]} of {progress[1]}"))
    rows.append(("Record SHA-256", f"<b>{_c(sha)}</b>"))
    data = [[_p(_t(k), _CELL_BOLD), _p(v, _BODY)] for k, v in rows]
    return _table(data, _scaled([1, 5]), [("BACKGROUND", (0, 0), (0, -1), _HEAD_BG)])


def _signatures(batch: Batch, entries: list[StepEntry]) -> Table | Paragraph:
    records: list[Any] = [*entries, batch]
    labels = {record_ref(e): f"Entry {_c('#' + str(e.seq))} {_c(e.step_key)}" for e in entries}
    labels[record_ref(batch)] = f"Batch {_c(batch.number)}"
    found = selectors.signatures_of(records)
    rows: list[list[Any]] = [
        _head(
            "Record", "Printed name (user)", "Meaning", "Date, time and zone", "Validity", "Reason"
        )
    ]
    extra: list[tuple[Any, ...]] = []
    for record in records:
        ref = record_ref(record)
        for m in found.get(ref, []):
            if not m.valid:
                extra.append(("BACKGROUND", (4, len(rows)), (4, len(rows)), _FLAG_BG))
            rows.append(
                [
                    _p(labels[ref]),
                    _p(f"{_t(m.printed_name)} ({_c(m.username)})"),
                    _p(_b(m.meaning)),
                    _p(_stamp(m.signed_at)),
                    _p(
                        "valid"
                        if m.valid
                        else "<b>NO LONGER VALID</b>: the record changed after signing"
                    ),
                    _p(_t(m.reason)),
                ]
            )
    if len(rows) == 1:
        return _p("<i>No signatures.</i>", _BODY)
    return _table(rows, _scaled([10, 12, 8, 17, 11, 14]), extra)


def batch_record_pdf(batch: Batch, *, printed_by: User) -> bytes:
    """The executed record of `batch` as a PDF (landscape A4), printed now by `printed_by`."""
    batch = (
        Batch.objects.select_related(
            "master_record__product",
            "master_record__document_version__document",
            "site",
            "started_by",
        )
        .filter(pk=batch.pk)
        .get()
    )
    zone = batch.site.time_zone
    printed_at = now()
    sha = selectors.record_sha256(batch)
    states = selectors.step_states(batch)
    entries = list(
        StepEntry.objects.filter(batch=batch)
        .select_related("performed_by", "verified_by", "corrects")
        .order_by("seq")
    )
    later = {e.corrects_id: e for e in entries if e.corrects_id is not None}
    by_pk = {e.pk: e for e in entries}
    for state in states:  # share the rows loaded with the `corrects` link
        if state.entry is not None:
            state.entry = by_pk.get(state.entry.pk, state.entry)
        state.history = [by_pk.get(e.pk, e) for e in state.history]
    sample_list = list(selectors.samples_of(batch))
    samples: dict[int, list[Any]] = {}
    for s in sample_list:
        samples.setdefault(s.entry_id, []).append(s)
    exceptions = selectors.review_exceptions(batch)
    done = sum(1 for s in states if s.state == EntryStatus.DONE)

    story: list[Any] = [
        _p(f"Executed batch record {_c(batch.number)}", _H1),
        Spacer(1, 3),
        _summary(batch, zone, sha, (done, len(states))),
        Spacer(1, 2),
        _p(
            "Times are in the site's zone with its UTC offset. Superseded entries are struck "
            "through and stay in the record beside the correction. The record SHA-256 is computed "
            "over every entry (superseded ones too) and the samples; compare it with the system "
            "to check this copy.",
            _CELL,
        ),
    ]
    story += _steps_section(batch, zone, states, later, samples)

    story += [CondPageBreak(25 * mm), _p("Samples drawn", _H2)]
    if sample_list:
        rows: list[list[Any]] = [
            _head("Sample", "Type, tests", "Quantity", "Drawn by, when", "Label text")
        ]
        for s in sample_list:
            number = _c(s.number) + (
                f"<br/><b>VOID</b>: {_t(s.void_reason)}" if s.voided_at else ""
            )
            rows.append(
                [
                    _p(number),
                    _p(f"{_t(s.sample_type)}: {_t(', '.join(s.tests))}"),
                    _p(_c(f"{_num(s.quantity)} {s.unit}")),
                    _p(f"{_who(s.drawn_by)}<br/>{_when_cell(s.drawn_at, zone)}"),
                    _p(_c(s.label_text)),
                ]
            )
        story.append(_table(rows, _scaled([9, 10, 5, 13, 25])))
    else:
        story.append(_p("<i>None.</i>", _BODY))

    story += [CondPageBreak(25 * mm), _p("Signatures", _H2), _signatures(batch, entries)]

    deviations = [x for x in exceptions if x.kind == "deviation" and x.deviation is not None]
    story += [CondPageBreak(25 * mm), _p("Deviations raised", _H2)]
    if deviations:
        rows = [_head("Number", "Title", "Status")]
        for x in deviations:
            dev = x.deviation
            assert dev is not None
            rows.append([_p(_c(dev.number)), _p(_t(dev.title)), _p(_b(dev.get_status_display()))])
        story.append(_table(rows, _scaled([6, 30, 8])))
    else:
        story.append(_p("<i>None.</i>", _BODY))

    story += [CondPageBreak(25 * mm), _p("Review by exception", _H2)]
    if exceptions:
        rows = [_head("Kind", "What", "Detail")]
        for x in exceptions:
            rows.append([_p(_t(x.kind)), _p(_t(x.title)), _p(_t(x.detail))])
        story.append(_table(rows, _scaled([5, 18, 25])))
    else:
        story.append(_p("<i>Nothing to review by exception.</i>", _BODY))
    story.append(KeepTogether([Spacer(1, 6), _p("End of record.", _BODY)]))

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + HEADER_HEIGHT,
        bottomMargin=MARGIN + FOOTER_HEIGHT,
        title=f"Executed batch record {batch.number}",
        author=printed_by.printed_name,
        subject=f"Record SHA-256 {sha}",
        creator="vein2vein",
    )
    doc.build(story, canvasmaker=_canvas_maker(_Header(batch, printed_by, printed_at, sha)))
    return buffer.getvalue()
