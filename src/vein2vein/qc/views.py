"""QC pages: samples, a batch's release testing, results (enter, review, invalidate), OOS,
methods and specifications, the analyst's worklist, and the instrument upload pages. Thin: a
form parses, a service decides, a refusal lands on the form with its 4xx status."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from django import forms
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from vein2vein.core import selectors as core_selectors
from vein2vein.core.actors import page_user
from vein2vein.core.audit import record_ref
from vein2vein.core.errors import DomainError
from vein2vein.core.models import User
from vein2vein.core.permissions import has_perm
from vein2vein.core.views import needs
from vein2vein.manufacturing import selectors as mfg_selectors
from vein2vein.web.actions import titled_form_action
from vein2vein.web.lists import list_page

from . import forms as qf
from . import selectors, services
from .filters import ResultFilterSet, SampleFilterSet
from .models import OosInvestigation, Sample, Shipment, Specification, TestMethod, TestResult
from .permissions import QcPerm

_UPLOAD_KEY = "qc.counter_upload"
_MAX_SESSION_BYTES = 2 * 1024 * 1024


def _post(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _files(request: HttpRequest) -> Any:
    return request.FILES if request.method == "POST" else None


def _form_page(request: HttpRequest, **page: Any) -> HttpResponse:
    """GET shows the form; POST runs the service: success redirects, a refusal shows 4xx."""
    return titled_form_action(request, template="qc/form.html", **page)


def _visible_batch(user: User, batch_id: int) -> Any:
    found = mfg_selectors.batches_for(user).filter(pk=batch_id).first()
    if found is None:
        raise Http404("no such batch")
    return found


def _sample(user: User, sample_id: int) -> Sample:
    return get_object_or_404(
        selectors.samples_for(user).select_related("batch__site", "batch__master_record"),
        pk=sample_id,
    )


def _result(user: User, result_id: int) -> TestResult:
    return get_object_or_404(
        selectors.results_for(user).select_related("batch__site", "equipment", "retest_of"),
        pk=result_id,
    )


def _analysts(batch: Any) -> list[tuple[int, str]]:
    from vein2vein.core.choices import Role
    from vein2vein.core.models import RoleAssignment

    rows = RoleAssignment.objects.filter(
        site=batch.site, role=Role.QC_ANALYST, revoked_at__isnull=True
    ).select_related("user")
    people = {a.user_id: a.user.printed_name for a in rows}
    return sorted(people.items(), key=lambda p: p[1])


# --- lists ----------------------------------------------------------------------------------
@needs(QcPerm.VIEW)
def index(request: HttpRequest) -> HttpResponse:
    return list_page(
        request,
        "qc/index.html",
        SampleFilterSet,
        selectors.samples_for(page_user(request)).order_by("-created_at"),
        {"tab": "samples"},
    )


@needs(QcPerm.VIEW)
def results(request: HttpRequest) -> HttpResponse:
    return list_page(
        request,
        "qc/results.html",
        ResultFilterSet,
        selectors.results_for(page_user(request)).order_by("-entered_at"),
        {"tab": "results"},
    )


@needs(QcPerm.VIEW)
def worklist(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "qc/worklist.html",
        {"items": selectors.worklist(page_user(request)), "tab": "worklist"},
    )


@needs(QcPerm.VIEW)
def oos_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.oos_for(page_user(request)).select_related("result__criterion__method")[:200]
    return render(request, "qc/oos_list.html", {"rows": rows, "tab": "oos"})


@needs(QcPerm.VIEW)
def methods(request: HttpRequest) -> HttpResponse:
    return render(request, "qc/methods.html", {"rows": selectors.methods()[:200], "tab": "methods"})


@needs(QcPerm.VIEW)
def method(request: HttpRequest, method_id: int) -> HttpResponse:
    m = get_object_or_404(TestMethod, pk=method_id)
    return render(
        request,
        "qc/method.html",
        {"m": m, "versions": m.versions.select_related("created_by"), "tab": "methods"},
    )


@needs(QcPerm.VIEW)
def specifications(request: HttpRequest) -> HttpResponse:
    rows = selectors.specifications().select_related("approved_by")[:200]
    return render(request, "qc/specs.html", {"rows": rows, "tab": "specs"})


@needs(QcPerm.VIEW)
def specification(request: HttpRequest, spec_id: int) -> HttpResponse:
    spec = get_object_or_404(
        Specification.objects.select_related("product", "created_by", "approved_by"), pk=spec_id
    )
    user = page_user(request)
    return render(
        request,
        "qc/spec.html",
        {
            "spec": spec,
            "criteria": spec.criteria.select_related("method"),
            "timeline": core_selectors.timeline(*record_ref(spec)),
            "can_approve": spec.status == "draft" and has_perm(user, QcPerm.SPEC_APPROVE),
            "tab": "specs",
        },
    )


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def approve_specification(request: HttpRequest, spec_id: int) -> HttpResponse:
    spec = get_object_or_404(Specification, pk=spec_id)
    back = reverse("qc:spec", args=[spec.pk])
    return _form_page(
        request,
        form=qf.PasswordForm(_post(request)),
        title=f"Approve {spec.title} v{spec.version}",
        submit="Approve and sign",
        run=lambda data: services.approve_specification(
            actor=page_user(request),
            specification_id=spec.pk,
            password=data["password"],
            request=request,
        ),
        back=back,
        done="Specification approved; the version before it is superseded.",
        signs=True,
    )


# --- a batch --------------------------------------------------------------------------------
@needs(QcPerm.VIEW)
def batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    user = page_user(request)
    b = _visible_batch(user, batch_id)
    return render(
        request,
        "qc/batch.html",
        {
            "b": b,
            "testing": selectors.release_testing(b.pk),
            "samples": selectors.samples_for(user).filter(batch=b).order_by("number")[:200],
            "drawn": mfg_selectors.samples_of(b)[:200],
            "can_sample": has_perm(user, QcPerm.SAMPLE_MANAGE, b.site),
        },
    )


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def register_sample(request: HttpRequest, batch_id: int) -> HttpResponse:
    user = page_user(request)
    b = _visible_batch(user, batch_id)

    def run(data: dict[str, Any]) -> str:
        s = services.register_sample(actor=user, batch_id=b.pk, **data)
        return reverse("qc:sample", args=[s.pk])

    return _form_page(
        request,
        form=qf.SampleForm(_post(request), analysts=_analysts(b)),
        title=f"Take a sample of {b.number} into QC",
        submit="Register",
        run=run,
        back=reverse("qc:batch", args=[b.pk]),
        done="Sample registered.",
    )


# --- a sample -------------------------------------------------------------------------------
@needs(QcPerm.VIEW)
def sample(request: HttpRequest, sample_id: int) -> HttpResponse:
    user = page_user(request)
    s = _sample(user, sample_id)
    site = s.batch.site
    return render(
        request,
        "qc/sample.html",
        {
            "s": s,
            "aliquots": s.aliquots.order_by("number"),
            "shipments": s.shipments.select_related("shipped_by"),
            "results": selectors.results_for(user).filter(sample=s).order_by("entered_at"),
            "timeline": core_selectors.timeline(*record_ref(s)),
            "can_manage": has_perm(user, QcPerm.SAMPLE_MANAGE, site),
            "can_enter": has_perm(user, QcPerm.RESULT_ENTER, site) and s.status == "available",
        },
    )


def _sample_step(
    request: HttpRequest,
    sample_id: int,
    form: forms.Form,
    call: Callable[[Sample, dict[str, Any]], Any],
    *,
    title: str,
    done: str,
    **page: Any,
) -> HttpResponse:
    s = _sample(page_user(request), sample_id)
    back = reverse("qc:sample", args=[s.pk])
    return _form_page(
        request,
        form=form,
        title=title.format(s=s.number),
        run=lambda data: call(s, data),
        back=back,
        done=done,
        **page,
    )


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def aliquot(request: HttpRequest, sample_id: int) -> HttpResponse:
    user = page_user(request)

    def call(s: Sample, data: dict[str, Any]) -> str:
        child = services.make_aliquot(actor=user, sample_id=s.pk, **data)
        return reverse("qc:sample", args=[child.pk])

    return _sample_step(
        request,
        sample_id,
        qf.AliquotForm(_post(request)),
        call,
        title="Aliquot of {s}",
        submit="Make the aliquot",
        done="Aliquot made.",
    )


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def ship(request: HttpRequest, sample_id: int) -> HttpResponse:
    user = page_user(request)
    return _sample_step(
        request,
        sample_id,
        qf.ShipForm(_post(request)),
        lambda s, data: services.ship_sample(actor=user, sample_id=s.pk, **data),
        title="Ship {s} to a laboratory",
        submit="Ship",
        done="Sample shipped: in transit until the laboratory receives it.",
    )


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, shipment_id: int) -> HttpResponse:
    user = page_user(request)
    shipment = get_object_or_404(
        Shipment.objects.filter(sample__in=selectors.samples_for(user)), pk=shipment_id
    )
    return _form_page(
        request,
        form=qf.ReceiveForm(_post(request)),
        title=f"Receipt of {shipment.sample.number} at {shipment.lab_name}",
        submit="Record the receipt",
        run=lambda data: services.receive_sample(actor=user, shipment_id=shipment.pk, **data),
        back=reverse("qc:sample", args=[shipment.sample_id]),
        done="Receipt recorded.",
    )


def _method_choices(s: Sample) -> list[tuple[str, str]]:
    from .services.results import _stage

    spec = selectors.approved_specification(s.batch.master_record.product_id, _stage(s))
    if spec is None:
        return []
    return [
        (c.method.code, f"{c.method.name} ({c.printed})")
        for c in spec.criteria.select_related("method").order_by("position")
    ]


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def enter_result(request: HttpRequest, sample_id: int) -> HttpResponse:
    user = page_user(request)
    s = _sample(user, sample_id)
    retests = [
        (r.pk, f"#{r.pk} {r.criterion.method.name} {r.printed} ({r.get_status_display()})")
        for r in selectors.results_for(user).filter(batch=s.batch).order_by("entered_at")[:100]
    ]
    form = qf.ResultForm(
        _post(request), _files(request), methods=_method_choices(s), retests=retests
    )

    def call(s: Sample, data: dict[str, Any]) -> str:
        r = services.enter_result(actor=user, sample_id=s.pk, **data)
        return reverse("qc:result", args=[r.pk])

    return _sample_step(
        request,
        sample_id,
        form,
        call,
        title="Enter a result for {s}",
        submit="Save the result",
        done="Result saved; it waits for a second analyst's review.",
        multipart=True,
    )


# --- a result -------------------------------------------------------------------------------
@needs(QcPerm.VIEW)
def result(request: HttpRequest, result_id: int) -> HttpResponse:
    user = page_user(request)
    r = _result(user, result_id)
    site = r.batch.site
    oos = OosInvestigation.objects.filter(result=r).select_related("deviation").first()
    return render(
        request,
        "qc/result.html",
        {
            "r": r,
            "oos": oos,
            "retests": r.retests.select_related("criterion__method"),
            "gates": (r.details or {}).get("gates", {}),
            "timeline": core_selectors.timeline(*record_ref(r)),
            "can_review": r.status == "awaiting_review"
            and r.entered_by_id != user.pk
            and has_perm(user, QcPerm.RESULT_REVIEW, site),
            "can_request": r.status in ("awaiting_review", "reviewed")
            and has_perm(user, QcPerm.RESULT_ENTER, site),
            "can_approve": r.status == "invalidation_requested"
            and has_perm(user, QcPerm.INVALIDATION_APPROVE, site),
            "can_investigate": has_perm(user, QcPerm.OOS_INVESTIGATE, site),
        },
    )


def _result_step(
    request: HttpRequest,
    result_id: int,
    form: forms.Form,
    call: Callable[[TestResult, dict[str, Any]], Any],
    *,
    title: str,
    done: str,
    **page: Any,
) -> HttpResponse:
    r = _result(page_user(request), result_id)
    return _form_page(
        request,
        form=form,
        title=title.format(r=f"result #{r.pk} ({r.criterion.method.name} {r.printed})"),
        run=lambda data: call(r, data),
        back=reverse("qc:result", args=[r.pk]),
        done=done,
        **page,
    )


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def review(request: HttpRequest, result_id: int) -> HttpResponse:
    user = page_user(request)
    return _result_step(
        request,
        result_id,
        qf.SignForm(_post(request)),
        lambda r, data: services.review_result(actor=user, result_id=r.pk, request=request, **data),
        title="Review {r}",
        submit="Review and sign",
        done="Result reviewed.",
        signs=True,
    )


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def request_invalidation(request: HttpRequest, result_id: int) -> HttpResponse:
    user = page_user(request)
    return _result_step(
        request,
        result_id,
        qf.ReasonForm(_post(request)),
        lambda r, data: services.request_invalidation(actor=user, result_id=r.pk, **data),
        title="Ask QA to invalidate {r}",
        submit="Ask for invalidation",
        done="Invalidation requested: the result counts until QA approves.",
    )


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def approve_invalidation(request: HttpRequest, result_id: int) -> HttpResponse:
    user = page_user(request)
    return _result_step(
        request,
        result_id,
        qf.PasswordForm(_post(request)),
        lambda r, data: services.approve_invalidation(
            actor=user, result_id=r.pk, request=request, **data
        ),
        title="Approve the invalidation of {r}",
        submit="Approve and sign",
        done="Result invalidated; a retest links to it.",
        signs=True,
    )


def _attachment(request: HttpRequest, result_id: int, which: str) -> FileResponse:
    r = _result(page_user(request), result_id)
    f = getattr(r, which)
    if not f:
        raise Http404("no file")
    name = r.file_name if which == "file" else f"result-{r.pk}.png"
    response = FileResponse(f.open("rb"), as_attachment=which == "file", filename=name)
    if which == "file":
        response["X-Content-SHA256"] = r.file_sha256
    return response


@needs(QcPerm.VIEW)
def result_file(request: HttpRequest, result_id: int) -> FileResponse:
    return _attachment(request, result_id, "file")


@needs(QcPerm.VIEW)
def result_plot(request: HttpRequest, result_id: int) -> FileResponse:
    return _attachment(request, result_id, "plot")


# --- OOS ------------------------------------------------------------------------------------
def _oos_step(
    request: HttpRequest,
    oos_id: int,
    form: forms.Form,
    call: Callable[[OosInvestigation, dict[str, Any]], Any],
    *,
    title: str,
    done: str,
) -> HttpResponse:
    oos = get_object_or_404(selectors.oos_for(page_user(request)), pk=oos_id)
    return _form_page(
        request,
        form=form,
        title=title.format(dev=oos.deviation.number),
        submit="Save",
        run=lambda data: call(oos, data),
        back=reverse("qc:result", args=[oos.result_id]),
        done=done,
    )


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def phase_i(request: HttpRequest, oos_id: int) -> HttpResponse:
    user = page_user(request)
    return _oos_step(
        request,
        oos_id,
        qf.PhaseIForm(_post(request)),
        lambda o, data: services.conclude_phase_i(actor=user, oos_id=o.pk, **data),
        title="Phase I (laboratory investigation) of {dev}",
        done="Phase I concluded.",
    )


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def phase_ii(request: HttpRequest, oos_id: int) -> HttpResponse:
    user = page_user(request)
    return _oos_step(
        request,
        oos_id,
        qf.SummaryForm(_post(request)),
        lambda o, data: services.conclude_phase_ii(actor=user, oos_id=o.pk, **data),
        title="Phase II (full-scale investigation) of {dev}",
        done="Phase II concluded.",
    )


# --- instrument uploads ---------------------------------------------------------------------
@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def counter_upload(request: HttpRequest) -> HttpResponse:
    """Step 1: pick the instrument and upload the export; the parsed rows are shown (step 2)."""
    from vein2vein.qc.instruments.counters import COUNTER_INSTRUMENTS, parse_counter_file

    form = qf.CounterUploadForm(
        _post(request), _files(request), instruments=list(COUNTER_INSTRUMENTS)
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            content = upload.read()
            try:
                if len(content) > _MAX_SESSION_BYTES:
                    raise DomainError("the file is larger than 2 MB", field="file")
                rows = parse_counter_file(
                    content, instrument=form.cleaned_data["instrument"], filename=upload.name
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = exc.status_code
            else:
                request.session[_UPLOAD_KEY] = {
                    "instrument": form.cleaned_data["instrument"],
                    "filename": upload.name,
                    "content": base64.b64encode(content).decode("ascii"),
                    "rows": len(rows),
                }
                return redirect("qc:counter_assign")
        else:
            status = 400
    return render(request, "qc/counter_upload.html", {"form": form, "tab": "import"}, status=status)


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def counter_assign(request: HttpRequest) -> HttpResponse:
    """Step 2: each parsed row is assigned to a sample; saving makes the results."""
    from vein2vein.qc.instruments.counters import parse_counter_file

    user = page_user(request)
    stash = request.session.get(_UPLOAD_KEY)
    if not stash:
        return redirect("qc:counter_upload")
    content = base64.b64decode(stash["content"])
    rows = parse_counter_file(content, instrument=stash["instrument"], filename=stash["filename"])
    samples = list(
        selectors.samples_for(user).filter(status="available").order_by("-created_at")[:200]
    )
    error = ""
    status = 200
    if request.method == "POST":
        assignments: dict[int, int] = {}
        for i in range(len(rows)):
            raw = request.POST.get(f"row_{i}", "")
            if raw.isdigit():
                assignments[i] = int(raw)
        try:
            made = services.import_counter_results(
                actor=user,
                instrument=stash["instrument"],
                content=content,
                filename=stash["filename"],
                assignments=assignments,
                equipment_id=request.POST.get("equipment_id", ""),
            )
        except DomainError as exc:
            error, status = exc.message, exc.status_code
        else:
            del request.session[_UPLOAD_KEY]
            from django.contrib import messages

            messages.success(request, f"{len(made)} result(s) saved with the file attached.")
            return redirect("qc:results")
    return render(
        request,
        "qc/counter_assign.html",
        {
            "stash": stash,
            "rows": list(enumerate(rows)),
            "samples": samples,
            "error": error,
            "equipment_id": request.POST.get("equipment_id", ""),
            "tab": "import",
        },
        status=status,
    )


@needs(QcPerm.VIEW)
@require_http_methods(["GET", "POST"])
def flow_upload(request: HttpRequest, sample_id: int) -> HttpResponse:
    user = page_user(request)
    s = _sample(user, sample_id)
    choices = [c for c in _method_choices(s)]
    flow_codes = set(
        TestMethod.objects.filter(equipment_kind="flow_cytometer").values_list("code", flat=True)
    )
    form = qf.FlowUploadForm(
        _post(request),
        _files(request),
        methods=[c for c in choices if c[0] in flow_codes],
    )

    def call(s: Sample, data: dict[str, Any]) -> str:
        upload = data.pop("file")
        r = services.import_flow_result(
            actor=user,
            sample_id=s.pk,
            content=upload.read(),
            filename=upload.name,
            **data,
        )
        return reverse("qc:result", args=[r.pk])

    return _sample_step(
        request,
        sample_id,
        form,
        call,
        title="Gate an FCS file for {s}",
        submit="Gate and save",
        done="FCS file gated; the result waits for review.",
        multipart=True,
    )
