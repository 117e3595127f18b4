"""Batch record pages: the batch list and start, the tablet execution page (only the next
step(s), one input each, a scan field for scans), verification, corrections, hold, resume,
completion and abort, the QA review by exception, samples, the PDF, and the master batch
records (list, detail, YAML and JSON schema, authoring).

Thin: a form parses, a service decides, a refusal lands on the page in red with its 4xx
status. A user sees only the batches of their own sites (selectors.batches_for); buttons show
only to roles that may use them (the services check again).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from vein2vein.core.actors import page_user
from vein2vein.core.checkpoints import take_checkpoint
from vein2vein.core.errors import DomainError, InterlockBlocked
from vein2vein.core.forms import attach_error
from vein2vein.core.models import User
from vein2vein.core.pagination import pager_query, web_page
from vein2vein.core.permissions import has_perm
from vein2vein.core.time import in_zone, now
from vein2vein.core.views import needs
from vein2vein.documents import selectors as documents_selectors
from vein2vein.documents.choices import DocumentKind
from vein2vein.documents.permissions import can_read_version
from vein2vein.quality import selectors as quality_selectors
from vein2vein.web.lists import page_filter

from . import forms as mf
from . import mbr, selectors, services
from .choices import BatchAction, BatchStatus, EntryFlag, EntryStatus, StepKind, batch_actions
from .filters import BatchFilterSet
from .models import Batch, MasterRecord, StepEntry
from .permissions import MfgPerm

REVIEW_KINDS = (
    ("deviation", "Deviations"),
    ("limit", "Outside limits"),
    ("timer", "Timer limits broken"),
    ("correction", "Corrections"),
    ("stale", "Calculations from a since-corrected value"),
    ("comment", "Comments"),
    ("late", "Late entries"),
    ("blocked", "Refused attempts (interlocks)"),
    ("unverified", "Awaiting verification"),
)
STATUS_TONE = {
    BatchStatus.IN_PROGRESS: "info",
    BatchStatus.ON_HOLD: "warn",
    BatchStatus.COMPLETED: "warn",
    BatchStatus.REVIEWED: "ok",
    BatchStatus.ABORTED: "bad",
}


def _forbidden(request: HttpRequest, perm: str) -> HttpResponse:
    return render(request, "core/forbidden.html", {"perm": perm}, status=403)


def _nav(user: User) -> dict[str, bool]:
    return {"author": has_perm(user, MfgPerm.MBR_AUTHOR)}


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    return render(request, template, {"nav": _nav(page_user(request)), **context}, status=status)


def _batch_or_404(request: HttpRequest, batch_id: int) -> Batch:
    found = selectors.batches_for(page_user(request)).filter(pk=batch_id).first()
    if found is None:
        raise Http404("no such batch at your sites")
    return found


def _may(request: HttpRequest, perm: str, b: Batch) -> bool:
    return has_perm(page_user(request), perm, b.site)


def local_time(value: dt.datetime | None, zone: str) -> str:
    if value is None:
        return ""
    return f"{in_zone(value, zone):%Y-%m-%d %H:%M %Z}"


def number_text(value: Decimal | str | None) -> str:
    """A number as entered: plain notation, no trailing zeros."""
    if value is None or value == "":
        return ""
    d = Decimal(str(value)).normalize()
    return format(d, "f")


def entry_value(e: StepEntry) -> str:
    """What an entry holds, as one line: '120000000 cells', 'LOT-R1 (2 vial)', 'clear'."""
    num = f"{number_text(e.value_number)} {e.unit}".strip() if e.value_number is not None else ""
    if e.step_kind == StepKind.MATERIAL:
        return f"{e.value_text} ({num})" if num else e.value_text
    if e.step_kind == StepKind.TIMER:
        return f"{num} elapsed"
    if e.step_kind == StepKind.SAMPLE:
        return f"{e.value_text} ({num})" if num else e.value_text
    if e.step_kind == StepKind.SIGNOFF:
        return "signed off"
    if e.step_kind == StepKind.INSTRUCTION and not e.value_text:
        return "done"
    if e.step_kind == StepKind.ATTACHMENT:
        return e.file_name or e.value_text
    return num or e.value_text


def _limits(limits: dict[str, Any] | None, unit: str) -> str:
    if not limits:
        return ""
    low, high = limits.get("low"), limits.get("high")
    if low is not None and high is not None:
        return f"{number_text(low)} to {number_text(high)} {unit}".strip()
    if low is not None:
        return f"at least {number_text(low)} {unit}".strip()
    if high is not None:
        return f"at most {number_text(high)} {unit}".strip()
    return ""


def step_facts(step: dict[str, Any]) -> list[tuple[str, str]]:
    """What the operator needs to know about a step: unit, target, limits, part, kind..."""
    kind = step["kind"]
    unit = step.get("unit", "")
    facts: list[tuple[str, str]] = []
    if kind in (StepKind.NUMERIC, StepKind.CALCULATION):
        if kind == StepKind.CALCULATION:
            facts.append(("Formula", step.get("formula", "")))
        facts.append(("Unit", unit))
        if step.get("target") is not None:
            facts.append(("Target", f"{number_text(step['target'])} {unit}".strip()))
        for name, label in (
            ("alert", "Alert limits"),
            ("action", "Action limits"),
            ("range", "Accepted range"),
        ):
            text = _limits(step.get(name), unit)
            if text:
                facts.append((label, text))
    elif kind == StepKind.CHOICE:
        facts.append(("Options", ", ".join(step.get("options", []))))
        if step.get("in_spec") and step["in_spec"] != step.get("options"):
            facts.append(("In specification", ", ".join(step["in_spec"])))
    elif kind == StepKind.MATERIAL:
        facts.append(("Part", step.get("part", "")))
        if step.get("quantity"):
            facts.append(("Quantity", f"{number_text(step['quantity'])} {unit}".strip()))
        elif step.get("quantity_from"):
            facts.append(("Quantity", f"the value of step {step['quantity_from']}"))
    elif kind == StepKind.EQUIPMENT:
        facts.append(("Equipment kind", str(step.get("equipment_kind", "")).replace("_", " ")))
    elif kind == StepKind.SAMPLE:
        facts.append(("Sample", str(step.get("sample_type", "")).replace("_", " ")))
        facts.append(("Tests", ", ".join(step.get("tests", []))))
        facts.append(("Quantity", f"{number_text(step.get('quantity'))} {unit}".strip()))
    elif kind == StepKind.TIMER:
        facts.append(("From step", step.get("from_step", "")))
        if step.get("min_minutes") is not None:
            facts.append(("Not before", f"{step['min_minutes']} min"))
        if step.get("max_minutes") is not None:
            facts.append(("Not after", f"{step['max_minutes']} min"))
    elif kind == StepKind.LABEL:
        copies = int(step.get("copies", 1))
        facts.append(
            ("Label", f"{step.get('label_kind', '')}, {copies} cop{'y' if copies == 1 else 'ies'}")
        )
    if step.get("requires"):
        facts.append(("Training", ", ".join(step["requires"])))
    if step.get("verify"):
        facts.append(("Verification", "a second person verifies"))
    return facts


# --- the batch list and start ------------------------------------------------------------------


def _start_form(
    request: HttpRequest, data: Any = None
) -> tuple[mf.StartBatchForm | None, list[Any]]:
    """The start form (None without the permission) and the rows: order, its effective MBR."""
    user = page_user(request)
    if not has_perm(user, MfgPerm.BATCH_START):
        return None, []
    orders = selectors.startable_orders(user)
    rows = []
    labels: dict[int, str] = {}
    by_product: dict[int, MasterRecord | None] = {}
    for o in orders[:100]:
        if o.product_id not in by_product:
            by_product[o.product_id] = services.effective_master_record(o.product)
        mr = by_product[o.product_id]
        rows.append((o, mr))
        labels[o.pk] = f"{o.coi_eye_readable} {o.coi_check_character} — {o.product.code} — " + (
            str(mr.document_version) if mr else "no effective MBR"
        )
    return mf.StartBatchForm(data, orders=orders, labels=labels), rows


@dataclass
class BatchRow:
    batch: Batch
    done: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def tone(self) -> str:
        return STATUS_TONE.get(BatchStatus(self.batch.status), "")


def _list_page(
    request: HttpRequest,
    *,
    form: mf.StartBatchForm | None = None,
    rows: list[Any] | None = None,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    user = page_user(request)
    filterset, batches, filter_status = page_filter(
        request, BatchFilterSet, selectors.batches_for(user)
    )
    bound = filterset.is_bound and filter_status == 200
    wanted = filterset.form.cleaned_data.get("status", "") if bound else ""
    status = status if status != 200 else filter_status
    page = web_page(request, batches)
    if form is None:
        form, rows = _start_form(request)
    done_total = selectors.progress_of(list(page))
    return _page(
        request,
        "manufacturing/batch_list.html",
        {
            "page": page,
            "query": pager_query(request),
            "rows": [BatchRow(b, *done_total[b.pk]) for b in page],
            "statuses": BatchStatus.choices,
            "wanted": wanted,
            "start_form": form,
            "startable": rows or [],
            "refusal": refusal,
            "tab": "batches",
        },
        status=status,
    )


@needs(MfgPerm.VIEW)
def batch_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


@needs(MfgPerm.BATCH_START)
@require_POST
def batch_start(request: HttpRequest) -> HttpResponse:
    form, rows = _start_form(request, request.POST)
    assert form is not None
    outcome = _attempt(
        request,
        form,
        lambda d: services.start_batch(actor=page_user(request), order_id=d["order"].pk),
    )
    if outcome.result is not None:
        b = outcome.result
        messages.success(request, f"Batch {b.number} started ({b.master_record.document_version}).")
        return redirect("manufacturing:batch_detail", batch_id=b.pk)
    return _list_page(
        request,
        form=form,
        rows=rows,
        refusal=outcome.refusal.message if outcome.refusal else "",
        status=outcome.status,
    )


# --- executing the batch ---------------------------------------------------------------------


@dataclass
class Attempt:
    """A posted form run through a service, keeping the refusal itself (shown in red)."""

    result: Any = None
    status: int = 200
    refusal: DomainError | None = None


def _attempt(
    request: HttpRequest, form: forms.Form, action: Callable[[dict[str, Any]], Any]
) -> Attempt:
    if request.method != "POST":
        return Attempt()
    if not form.is_valid():
        return Attempt(status=400)
    try:
        return Attempt(result=action(form.cleaned_data))
    except DomainError as exc:
        attach_error(form, exc)
        return Attempt(status=exc.status_code, refusal=exc)


def _timer_note(step: dict[str, Any], entries: dict[str, StepEntry]) -> str:
    if step["kind"] != StepKind.TIMER:
        return ""
    source = entries.get(step.get("from_step", ""))
    if source is None:
        return ""
    minutes = int((now() - source.performed_at).total_seconds() // 60)
    return f"{minutes} min since step {source.step_key}"


def _submit_label(kind: str) -> str:
    if kind in mf.DONE_KINDS:
        return "Done"
    if kind == StepKind.SIGNOFF:
        return "Sign off"
    return "Record"


def _batch_page(
    request: HttpRequest,
    b: Batch,
    *,
    status: int = 200,
    refusal: str = "",
    step_form: mf.StepForm | None = None,
    verify: tuple[int, mf.VerifyForm] | None = None,
    action_forms: dict[str, forms.Form] | None = None,
) -> HttpResponse:
    user = page_user(request)
    zone = b.site.time_zone
    states = selectors.step_states(b)
    current = {s.key: s.entry for s in states if s.entry is not None}
    allowed = batch_actions(b.status)  # the state machine lives in choices.BATCH_ACTIONS
    can_execute = BatchAction.EXECUTE in allowed and _may(request, MfgPerm.STEP_EXECUTE, b)
    can_verify = BatchAction.VERIFY in allowed and _may(request, MfgPerm.STEP_VERIFY, b)
    can_correct = BatchAction.CORRECT in allowed and _may(request, MfgPerm.STEP_CORRECT, b)
    focused = step_form is not None or verify is not None
    cards = []
    running = BatchAction.EXECUTE in allowed
    next_states = [s for s in states if s.state == "next"] if running else []
    for s in next_states:
        form: mf.StepForm | None
        if step_form is not None and step_form.step["key"] == s.key:
            form = step_form
        elif can_execute:
            form = mf.StepForm(step=s.step, autofocus=not focused)
            focused = True
        else:
            form = None
        cards.append(
            {
                "step": s.step,
                "form": form,
                "facts": step_facts(s.step),
                "timer": _timer_note(s.step, {k: v for k, v in current.items() if v}),
                "submit": _submit_label(s.step["kind"]),
                "kind_label": StepKind(s.step["kind"]).label,
            }
        )
    awaiting = []
    for s in states:
        if s.state != EntryStatus.AWAITING_VERIFICATION or s.entry is None:
            continue
        vform: mf.VerifyForm | None = None
        if verify is not None and verify[0] == s.entry.pk:
            vform = verify[1]
        elif can_verify and s.entry.performed_by_id != user.pk:
            vform = mf.VerifyForm(auto_id=f"id_verify{s.entry.pk}_%s")
        awaiting.append(
            {"step": s.step, "entry": s.entry, "value": entry_value(s.entry), "form": vform}
        )
    numbers = {
        e.deviation for s in states for e in [s.entry, *s.history] if e is not None and e.deviation
    }
    dev_ids = quality_selectors.deviation_ids(numbers)
    operations: list[dict[str, Any]] = []
    for s in states:
        if not operations or operations[-1]["key"] != s.step["operation"]:
            operations.append(
                {
                    "key": s.step["operation"],
                    "title": s.step["operation_title"],
                    "rows": [],
                    "total": 0,
                    "done": 0,
                }
            )
        op = operations[-1]
        op["total"] += 1
        if s.state == EntryStatus.DONE:
            op["done"] += 1
        if s.entry is None and not s.history:
            continue
        op["rows"].append(
            {
                "step": s.step,
                "state": s.state,
                "entries": [
                    {
                        "entry": e,
                        "value": entry_value(e),
                        "performed": local_time(e.performed_at, zone),
                        "recorded": local_time(e.recorded_at, zone) if e.is_late else "",
                        "verified": local_time(e.verified_at, zone),
                        "deviation_id": dev_ids.get(e.deviation),
                        "correctable": can_correct
                        and e.status != EntryStatus.SUPERSEDED
                        and e.step_kind in mf.CORRECTABLE_KINDS,
                    }
                    for e in [*s.history, *([s.entry] if s.entry else [])]
                ],
            }
        )
    done, total = sum(1 for s in states if s.state == EntryStatus.DONE), len(states)
    action_forms = action_forms or {}
    can_hold = _may(request, MfgPerm.BATCH_HOLD, b)
    context = {
        "batch": b,
        "order": b.order,
        "version": b.master_record.document_version,
        "cards": cards,
        "awaiting": awaiting,
        "operations": operations,
        "done": done,
        "total": total,
        "percent": round(100 * done / total) if total else 0,
        "refusal": refusal,
        "tone": STATUS_TONE.get(BatchStatus(b.status), ""),
        "started": local_time(b.started_at, zone),
        "can_execute": can_execute,
        "hold_form": action_forms.get("hold")
        or (mf.ReasonForm(prefix="hold") if can_hold and BatchAction.HOLD in allowed else None),
        "resume_form": action_forms.get("resume")
        or (mf.ReasonForm(prefix="resume") if can_hold and BatchAction.RESUME in allowed else None),
        "abort_form": action_forms.get("abort")
        or (
            mf.AbortForm(prefix="abort")
            if _may(request, MfgPerm.BATCH_ABORT, b) and BatchAction.ABORT in allowed
            else None
        ),
        "can_complete": BatchAction.COMPLETE in allowed
        and _may(request, MfgPerm.STEP_EXECUTE, b)
        and not services.open_steps(b),
        "tab": "batches",
    }
    offered = {
        BatchAction.EXECUTE: can_execute,
        BatchAction.VERIFY: can_verify,
        BatchAction.CORRECT: can_correct,
        BatchAction.HOLD: context["hold_form"] is not None,
        BatchAction.RESUME: context["resume_form"] is not None,
        BatchAction.ABORT: context["abort_form"] is not None,
        BatchAction.COMPLETE: BatchAction.COMPLETE in allowed
        and _may(request, MfgPerm.STEP_EXECUTE, b),
    }
    context["offered"] = frozenset(a for a, shown in offered.items() if shown)
    return _page(request, "manufacturing/batch_detail.html", context, status=status)


@needs(MfgPerm.VIEW)
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The tablet execution page: the next step(s), big; what awaits verification; the record."""
    return _batch_page(request, _batch_or_404(request, batch_id))


def _step_of(b: Batch, step_key: str) -> dict[str, Any]:
    try:
        return mbr.step(b.master_record.definition, step_key)
    except KeyError:
        raise Http404(f"no step {step_key!r} in this batch's master record") from None


@needs(MfgPerm.STEP_EXECUTE)
@require_POST
def step_record(request: HttpRequest, batch_id: int, step_key: str) -> HttpResponse:
    b = _batch_or_404(request, batch_id)
    step = _step_of(b, step_key)
    form = mf.StepForm(request.POST, request.FILES, step=step)
    outcome = _attempt(
        request,
        form,
        lambda d: services.record_step(
            actor=page_user(request),
            batch_id=b.pk,
            step_key=step["key"],
            value=d.get("value"),
            scan=d.get("scan"),
            comment=d.get("comment", ""),
            file=d.get("file"),
            password=d.get("password"),
            request=request,
        ),
    )
    if outcome.result is not None:
        e: StepEntry = outcome.result
        text = f"#{e.seq} {step['title']}: {entry_value(e)}."
        if e.deviation:
            text += f" Deviation {e.deviation} raised."
        elif e.flag == EntryFlag.ALERT:
            text += " Outside the alert limits: flagged for review."
        if e.status == EntryStatus.AWAITING_VERIFICATION:
            text += " A second person verifies it now."
        messages.success(request, text)
        return redirect("manufacturing:batch_detail", batch_id=b.pk)
    refusal = outcome.refusal
    if isinstance(refusal, InterlockBlocked) or (refusal is not None and refusal.field == "scan"):
        form.clear_scan()
    if refusal is not None and refusal.field == "comment":
        form.focus("comment")
    else:
        form.focus(form.input_name or "comment")
    b.refresh_from_db()
    return _batch_page(
        request,
        b,
        status=outcome.status,
        refusal=refusal.message if refusal else "",
        step_form=form,
    )


def _entry_or_404(request: HttpRequest, entry_id: int) -> StepEntry:
    found = (
        StepEntry.objects.select_related("batch", "performed_by")
        .filter(pk=entry_id, batch__in=selectors.batches_for(page_user(request)))
        .first()
    )
    if found is None:
        raise Http404("no such entry at your sites")
    return found


@needs(MfgPerm.STEP_VERIFY)
@require_POST
def entry_verify(request: HttpRequest, entry_id: int) -> HttpResponse:
    e = _entry_or_404(request, entry_id)
    form = mf.VerifyForm(request.POST, auto_id=f"id_verify{e.pk}_%s")
    outcome = _attempt(
        request,
        form,
        lambda d: services.verify_entry(
            actor=page_user(request),
            entry_id=e.pk,
            password=d["password"],
            comment=d["comment"],
            request=request,
        ),
    )
    if outcome.result is not None:
        messages.success(request, f"Entry #{e.seq} ({e.step_key}) verified and signed.")
        return redirect("manufacturing:batch_detail", batch_id=e.batch_id)
    return _batch_page(
        request,
        _batch_or_404(request, e.batch_id),
        status=outcome.status,
        refusal=outcome.refusal.message if outcome.refusal else "",
        verify=(e.pk, form),
    )


@needs(MfgPerm.STEP_CORRECT)
@require_http_methods(["GET", "POST"])
def entry_correct(request: HttpRequest, entry_id: int) -> HttpResponse:
    e = _entry_or_404(request, entry_id)
    b = e.batch
    step = _step_of(b, e.step_key)
    form = mf.CorrectForm(request.POST or None, step=step)
    outcome = _attempt(
        request,
        form,
        lambda d: services.correct_entry(
            actor=page_user(request),
            entry_id=e.pk,
            reason=d["reason"],
            value=d.get("value"),
            comment=d.get("comment", ""),
        ),
    )
    if outcome.result is not None:
        new = outcome.result
        text = f"Entry #{e.seq} corrected by #{new.seq}: {entry_value(new)}."
        if new.deviation:
            text += f" Deviation {new.deviation} raised."
        if new.status == EntryStatus.AWAITING_VERIFICATION:
            text += " A second person verifies it again."
        messages.success(request, text)
        return redirect("manufacturing:batch_detail", batch_id=b.pk)
    return _page(
        request,
        "manufacturing/form.html",
        {
            "form": form,
            "title": f"Correct entry #{e.seq}: {step['title']}",
            "submit": "Save correction",
            "intro": f"Recorded: {entry_value(e)} by {e.performed_by.printed_name} at "
            f"{local_time(e.performed_at, b.site.time_zone)}. The original stays visible with "
            "your reason"
            + (
                "; the value is computed again from the current inputs."
                if step["kind"] == StepKind.CALCULATION
                else "."
            ),
            "refusal": outcome.refusal.message if outcome.refusal else "",
            "batch": b,
            "back": reverse("manufacturing:batch_detail", args=[b.pk]),
            "tab": "batches",
        },
        status=outcome.status,
    )


def _batch_action(
    request: HttpRequest,
    batch_id: int,
    name: str,
    form_class: type[forms.Form],
    run: Callable[[Batch, dict[str, Any]], Batch],
    done: str,
) -> HttpResponse:
    b = _batch_or_404(request, batch_id)
    form = form_class(request.POST, prefix=name)
    outcome = _attempt(request, form, lambda d: run(b, d))
    if outcome.result is not None:
        messages.success(request, done.format(number=b.number))
        return redirect("manufacturing:batch_detail", batch_id=b.pk)
    b.refresh_from_db()
    return _batch_page(
        request,
        b,
        status=outcome.status,
        refusal=outcome.refusal.message if outcome.refusal else "",
        action_forms={name: form},
    )


def _batch_action_view(
    perm: str,
    name: str,
    form_class: type[forms.Form],
    run: Callable[[HttpRequest, Batch, dict[str, Any]], Batch],
    done: str,
) -> Callable[..., HttpResponse]:
    """A batch action posted from the batch page (hold, resume, abort)."""

    @needs(perm)
    @require_POST
    def view(request: HttpRequest, batch_id: int) -> HttpResponse:
        return _batch_action(
            request, batch_id, name, form_class, lambda b, d: run(request, b, d), done
        )

    view.__name__ = view.__qualname__ = f"batch_{name}"
    return view


batch_hold = _batch_action_view(
    MfgPerm.BATCH_HOLD,
    "hold",
    mf.ReasonForm,
    lambda r, b, d: services.hold_batch(actor=page_user(r), batch_id=b.pk, reason=d["reason"]),
    "Batch {number} is on hold: no step can be recorded until it resumes.",
)
batch_resume = _batch_action_view(
    MfgPerm.BATCH_HOLD,
    "resume",
    mf.ReasonForm,
    lambda r, b, d: services.resume_batch(actor=page_user(r), batch_id=b.pk, reason=d["reason"]),
    "Batch {number} resumed.",
)
batch_abort = _batch_action_view(
    MfgPerm.BATCH_ABORT,
    "abort",
    mf.AbortForm,
    lambda r, b, d: services.abort_batch(
        actor=page_user(r), batch_id=b.pk, reason=d["reason"], password=d["password"], request=r
    ),
    "Batch {number} aborted; the order is rejected.",
)


class _NoFields(forms.Form):
    pass


@needs(MfgPerm.STEP_EXECUTE)
@require_POST
def batch_complete(request: HttpRequest, batch_id: int) -> HttpResponse:
    return _batch_action(
        request,
        batch_id,
        "complete",
        _NoFields,
        lambda b, d: services.complete_batch(actor=page_user(request), batch_id=b.pk),
        "Batch {number} completed: it waits for QA review.",
    )


# --- review, samples, PDF ------------------------------------------------------------------


@needs(MfgPerm.VIEW)
@require_http_methods(["GET", "POST"])
def batch_review(request: HttpRequest, batch_id: int) -> HttpResponse:
    """QA review by exception: only what needs an eye, grouped; the signatures; QA signs."""
    b = _batch_or_404(request, batch_id)
    may_review = _may(request, MfgPerm.BATCH_REVIEW, b)
    if request.method == "POST" and not may_review:
        return _forbidden(request, MfgPerm.BATCH_REVIEW)
    form = mf.ReviewForm(request.POST or None) if may_review else None
    outcome = Attempt()
    if form is not None:
        outcome = _attempt(
            request,
            form,
            lambda d: services.review_batch(
                actor=page_user(request),
                batch_id=b.pk,
                password=d["password"],
                comment=d["comment"],
                request=request,
            ),
        )
    if outcome.result is not None:
        messages.success(request, f"Batch {b.number} reviewed and signed: it goes to disposition.")
        return redirect("manufacturing:batch_review", batch_id=b.pk)
    zone = b.site.time_zone
    items = selectors.review_exceptions(b)
    groups = []
    for kind, title in REVIEW_KINDS:
        found = [i for i in items if i.kind == kind]
        if found:
            groups.append({"kind": kind, "title": title, "items": found})
    entries = list(StepEntry.objects.filter(batch=b).select_related("performed_by").order_by("seq"))
    signed = selectors.signatures_of([b, *entries])
    from vein2vein.core.audit import record_ref

    signatures = list(signed.get(record_ref(b), []))
    entry_signatures = [
        {"entry": e, "signatures": signed.get(record_ref(e), [])}
        for e in entries
        if signed.get(record_ref(e))
    ]
    return _page(
        request,
        "manufacturing/review.html",
        {
            "batch": b,
            "order": b.order,
            "version": b.master_record.document_version,
            "groups": groups,
            "count": len(items),
            "signatures": signatures,
            "entry_signatures": entry_signatures,
            "form": form
            if BatchAction.REVIEW in batch_actions(b.status) or (form and form.errors)
            else None,
            "refusal": outcome.refusal.message if outcome.refusal else "",
            "tone": STATUS_TONE.get(BatchStatus(b.status), ""),
            "reviewed": local_time(b.reviewed_at, zone),
            "sha256": selectors.record_sha256(b),
            "tab": "batches",
        },
        status=outcome.status,
    )


@needs(MfgPerm.VIEW)
def batch_samples(request: HttpRequest, batch_id: int) -> HttpResponse:
    b = _batch_or_404(request, batch_id)
    zone = b.site.time_zone
    return _page(
        request,
        "manufacturing/samples.html",
        {
            "batch": b,
            "order": b.order,
            "samples": [
                {"sample": s, "drawn": local_time(s.drawn_at, zone)}
                for s in selectors.samples_of(b)
            ],
            "tab": "batches",
        },
    )


@needs(MfgPerm.VIEW)
def batch_pdf(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The executed record as a PDF (every entry, signature and its SHA-256)."""
    b = _batch_or_404(request, batch_id)
    try:
        from .pdf import batch_record_pdf
    except ImportError:
        return _page(
            request,
            "core/forbidden.html",
            {"message": "The PDF export is not installed yet."},
            status=501,
        )
    # Every export is a signed checkpoint of the audit trail's head (ADR 0002).
    take_checkpoint(occasion="export", actor=page_user(request))
    content = batch_record_pdf(b, printed_by=page_user(request))
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{b.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- master batch records ---------------------------------------------------------------------


def _mbr_or_404(request: HttpRequest, mbr_id: int) -> MasterRecord:
    found = selectors.master_records().filter(pk=mbr_id).first()
    if found is None:
        raise Http404("no such master record")
    return found


@needs(MfgPerm.VIEW)
def mbr_list(request: HttpRequest) -> HttpResponse:
    return _page(
        request,
        "manufacturing/mbr_list.html",
        {"records": selectors.master_records(), "tab": "mbr"},
    )


def _operations(definition: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for step in mbr.steps(definition):
        if not out or out[-1]["key"] != step["operation"]:
            out.append({"key": step["operation"], "title": step["operation_title"], "steps": []})
        out[-1]["steps"].append(
            {
                "step": step,
                "kind_label": StepKind(step["kind"]).label,
                "facts": [f for f in step_facts(step) if f[0] not in ("Training", "Verification")],
            }
        )
    return out


@needs(MfgPerm.VIEW)
def mbr_detail(request: HttpRequest, mbr_id: int) -> HttpResponse:
    mr = _mbr_or_404(request, mbr_id)
    if not can_read_version(page_user(request), mr.document_version):
        return _forbidden(request, "documents.view_unreleased")
    definition = mr.definition
    return _page(
        request,
        "manufacturing/mbr_detail.html",
        {
            "mr": mr,
            "version": mr.document_version,
            "definition": definition,
            "parameters": [
                (name, number_text(p["value"]), p.get("unit", ""), p.get("description", ""))
                for name, p in definition.get("parameters", {}).items()
            ],
            "operations": _operations(definition),
            "batches": selectors.batches_for(page_user(request)).filter(master_record=mr)[:20],
            "tab": "mbr",
        },
    )


@needs(MfgPerm.VIEW)
def mbr_yaml(request: HttpRequest, mbr_id: int) -> HttpResponse:
    mr = _mbr_or_404(request, mbr_id)
    if not can_read_version(page_user(request), mr.document_version):
        return _forbidden(request, "documents.view_unreleased")
    name = mr.document_version.file_name or f"{mr.product.code}-{mr.process_version}.yaml"
    response = HttpResponse(mr.yaml_text, content_type="text/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-SHA256"] = mr.file_sha256
    return response


@needs(MfgPerm.VIEW)
def mbr_schema(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        json.dumps(mbr.schema(), indent=2), content_type="application/json; charset=utf-8"
    )


@needs(MfgPerm.MBR_AUTHOR)
@require_http_methods(["GET", "POST"])
def mbr_author(request: HttpRequest) -> HttpResponse:
    """Paste or upload a YAML MBR: Check it (errors name the YAML path; else a preview of the
    steps), or import it as a new draft version, reviewed and approved in the documents app."""
    documents = documents_selectors.documents_of_kind(DocumentKind.MASTER_BATCH_RECORD)
    initial = {}
    wanted = request.GET.get("document", "")
    if wanted.isdigit() and documents.filter(pk=int(wanted)).exists():
        initial["document"] = int(wanted)
    form = mf.MbrForm(
        request.POST or None, request.FILES or None, documents=documents, initial=initial
    )
    action = request.POST.get("action", "check")
    preview: list[dict[str, Any]] | None = None
    definition: dict[str, Any] | None = None
    if action == "import":
        outcome = _attempt(
            request,
            form,
            lambda d: services.import_master_record(
                actor=page_user(request),
                yaml_text=form.source,
                change_summary=d["change_summary"],
                document_id=d["document"].pk if d["document"] else None,
                title=d["title"] or None,
                file_name=getattr(d.get("file"), "name", None),
            ),
        )
        if outcome.result is not None:
            mr = outcome.result
            messages.success(
                request,
                f"Imported as draft {mr.document_version}: submit it for review here; once "
                "approved and effective, batches start from it.",
            )
            return redirect("documents:version_detail", version_id=mr.document_version.pk)
    else:
        outcome = _attempt(request, form, lambda d: services.validate_mbr(text=form.source))
        if outcome.result is not None:
            definition = outcome.result
            preview = _operations(definition)
            upload = form.cleaned_data.get("file")
            if upload is not None:  # the checked file, kept in the text box for the import
                upload.seek(0)
                form.data = {**form.data.dict(), "yaml_text": upload.read().decode("utf-8")}
    return _page(
        request,
        "manufacturing/mbr_author.html",
        {
            "form": form,
            "preview": preview,
            "definition": definition,
            "refusal": outcome.refusal.message if outcome.refusal else "",
            "tab": "author",
        },
        status=outcome.status,
    )
