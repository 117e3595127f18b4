"""Materials pages: lots (list, detail, receive, one form per step), master data, reports,
kits and the CSV import. Thin: a form parses, a service decides, a refusal lands on the form
with its 4xx status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from vein2vein.core import selectors as core_selectors
from vein2vein.core.actors import page_user
from vein2vein.core.audit import record_ref
from vein2vein.core.errors import DomainError
from vein2vein.core.files import verified_copy
from vein2vein.core.forms import attach_error
from vein2vein.core.models import Site, User
from vein2vein.core.pagination import pager_query, web_page
from vein2vein.core.permissions import active_roles, has_perm
from vein2vein.core.signing import manifestation, signatures_for
from vein2vein.core.time import now
from vein2vein.core.views import needs
from vein2vein.web.actions import form_action
from vein2vein.web.lists import list_page

from . import forms as mf
from . import selectors, services
from .choices import HOLD_FROM, REJECT_FROM, LotStatus
from .filters import LotFilterSet
from .models import Kit, Lot, Material, Supplier
from .permissions import MatPerm, release_roles
from .services import ImportRejected


def _sites_where(user: User, perm: str) -> Any:
    ids = [s.pk for s in core_selectors.my_sites(user) if has_perm(user, perm, s)]
    return Site.objects.filter(pk__in=ids).order_by("code")


def _initial_site(request: HttpRequest) -> dict[str, Any]:
    site = getattr(request, "site", None)
    return {"site": site.pk} if site is not None else {}


def _action(
    request: HttpRequest,
    form: forms.Form,
    call: Callable[[dict[str, Any]], Any],
    *,
    title: str,
    submit: str,
    done: Any,
    success: Any,
    **extra: Any,
) -> HttpResponse:
    """A materials action page (materials/form.html) through web.actions.form_action."""
    return form_action(
        request,
        form,
        call,
        template="materials/form.html",
        context={"title": title, "submit": submit, **extra},
        success=success,
        done=done,
    )


def _render_form(
    request: HttpRequest,
    form: forms.Form,
    title: str,
    submit: str,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = {"form": form, "title": title, "submit": submit, **extra}
    return render(request, "materials/form.html", context, status=status)


# --- lots -----------------------------------------------------------------------------------
@needs(MatPerm.VIEW)
def index(request: HttpRequest) -> HttpResponse:
    """The lots list, with filters: status, material, location, expiring, usable now."""
    at = now()
    return list_page(
        request,
        "materials/lot_list.html",
        LotFilterSet,
        selectors.lots(),
        {"can_receive": has_perm(page_user(request), MatPerm.RECEIVE), "tab": "lots"},
        present=lambda lots: [
            (lot, selectors.check_material_usable(lot, None, 0.001, at)) for lot in lots
        ],
    )


@needs(MatPerm.VIEW)
def lot_detail(request: HttpRequest, lot_id: int) -> HttpResponse:
    lot = get_object_or_404(Lot.objects.select_related("material", "supplier", "site"), pk=lot_id)
    user = page_user(request)
    at = now()
    record_type, record_id = record_ref(lot)
    roles = active_roles(user, lot.site)
    can_decide = bool(roles & release_roles(lot.material.qc_release_required))
    can_hold = has_perm(user, MatPerm.HOLD, lot.site)
    can_move = has_perm(user, MatPerm.INVENTORY, lot.site)
    actions = []
    if can_decide and lot.status == LotStatus.QUARANTINE:
        actions.append(("Release", "release"))
    if can_decide and lot.status in REJECT_FROM:
        actions.append(("Reject", "reject"))
    if can_hold and lot.status in HOLD_FROM:
        actions.append(("Put on hold", "hold"))
    if can_hold and lot.status == LotStatus.ON_HOLD:
        actions.append(("Take off hold", "unhold"))
    if can_move and lot.status != LotStatus.REJECTED and lot.on_hand > 0:
        actions.append(("Consume", "consume"))
    if can_move:
        actions.append(("Adjust quantity", "adjust"))
    return render(
        request,
        "materials/lot_detail.html",
        {
            "lot": lot,
            "usable": selectors.check_material_usable(lot, None, 0.001, at),
            "blockers": services.release_blockers(lot, at)
            if lot.status == LotStatus.QUARANTINE
            else [],
            "supplier_approved": selectors.supplier_approved_for(lot),
            "ledger": (ledger := web_page(request, selectors.ledger(lot))),
            "page": ledger,
            "query": pager_query(request),
            "signatures": [manifestation(s, lot) for s in signatures_for(lot)],
            "timeline": core_selectors.timeline(record_type, record_id),
            "kits": lot.kit_uses.select_related("kit"),
            "actions": [
                (label, reverse("materials:lot_step", args=[lot.pk, step]))
                for label, step in actions
            ],
            "tab": "lots",
        },
    )


@needs(MatPerm.RECEIVE)
@require_http_methods(["GET", "POST"])
def lot_receive(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    sites = _sites_where(user, MatPerm.RECEIVE)
    form = mf.ReceiveForm(
        request.POST or None, request.FILES or None, sites=sites, initial=_initial_site(request)
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                lot = services.receive_lot(
                    actor=user,
                    site_id=data["site"].pk,
                    material_id=data["material"].pk,
                    supplier_id=data["supplier"].pk,
                    supplier_lot=data["supplier_lot"],
                    quantity=data["quantity"],
                    unit=data["unit"],
                    expiry_date=data["expiry_date"],
                    location=data["location"],
                    coa_file=data["coa_file"],
                    inspection={
                        k: data[k]
                        for k in (
                            "packaging_intact",
                            "labels_match",
                            "temperature_ok",
                            "coa_matches",
                        )
                    },
                    remarks=data["remarks"],
                    attributes={"titer_tu_per_ml": data["titer"]} if data["titer"] else None,
                )
            except DomainError as exc:
                attach_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, f"{lot.lot_number} received into quarantine.")
                return redirect("materials:lot_detail", lot_id=lot.pk)
    return _render_form(
        request,
        form,
        "Receive a lot",
        "Receive into quarantine",
        status=status,
        multipart=True,
        intro="The lot starts in quarantine. Tick each inspection item only if it is true; "
        "a failed item is recorded and the lot can then only be rejected.",
        back=reverse("materials:lot_list"),
    )


@dataclass(frozen=True)
class Step:
    title: str
    submit: str
    form: type[forms.Form]
    run: Callable[[HttpRequest, Lot, dict[str, Any]], Any]
    done: str
    signs: bool = False
    intro: str = ""


STEPS: dict[str, Step] = {
    "release": Step(
        "Release {lot}",
        "Sign release",
        mf.SignForm,
        lambda r, lot, d: services.release_lot(
            actor=page_user(r), lot_id=lot.pk, password=d["password"], reason=d["reason"], request=r
        ),
        "Lot released.",
        signs=True,
        intro="Your signature releases the lot for use in manufacturing.",
    ),
    "reject": Step(
        "Reject {lot}",
        "Sign rejection",
        mf.RejectForm,
        lambda r, lot, d: services.reject_lot(
            actor=page_user(r), lot_id=lot.pk, password=d["password"], reason=d["reason"], request=r
        ),
        "Lot rejected.",
        signs=True,
        intro="Rejection is final: the lot is never used.",
    ),
    "hold": Step(
        "Put {lot} on hold",
        "Put on hold",
        mf.ReasonForm,
        lambda r, lot, d: services.hold_lot(actor=page_user(r), lot_id=lot.pk, reason=d["reason"]),
        "Lot put on hold.",
    ),
    "unhold": Step(
        "Take {lot} off hold",
        "Take off hold",
        mf.ReasonForm,
        lambda r, lot, d: services.release_hold(
            actor=page_user(r), lot_id=lot.pk, reason=d["reason"]
        ),
        "Lot taken off hold.",
    ),
    "consume": Step(
        "Consume from {lot}",
        "Consume",
        mf.ConsumeForm,
        lambda r, lot, d: services.consume_lot(
            actor=page_user(r), lot_id=lot.pk, quantity=d["quantity"], reference=d["reference"]
        ),
        "Consumption booked.",
    ),
    "adjust": Step(
        "Adjust the quantity of {lot}",
        "Book adjustment",
        mf.AdjustForm,
        lambda r, lot, d: services.adjust_lot(
            actor=page_user(r), lot_id=lot.pk, quantity=d["quantity"], reason=d["reason"]
        ),
        "Adjustment booked.",
    ),
}


@needs(MatPerm.VIEW)
@require_http_methods(["GET", "POST"])
def lot_step(request: HttpRequest, lot_id: int, step: str) -> HttpResponse:
    spec = STEPS.get(step)
    if spec is None:
        raise Http404("no such step")
    lot = get_object_or_404(Lot.objects.select_related("material", "site"), pk=lot_id)
    form = spec.form(request.POST or None)
    return _action(
        request,
        form,
        lambda data: spec.run(request, lot, data),
        title=spec.title.format(lot=lot.lot_number),
        submit=spec.submit,
        done=spec.done,
        success=reverse("materials:lot_detail", args=[lot.pk]),
        signs=spec.signs,
        intro=spec.intro,
        record=lot,
        back=reverse("materials:lot_detail", args=[lot.pk]),
    )


@needs(MatPerm.VIEW)
def lot_coa(request: HttpRequest, lot_id: int) -> HttpResponse:
    """The CoA exactly as hashed at receipt; a file that no longer matches is never served."""
    lot = get_object_or_404(Lot, pk=lot_id)
    if not lot.coa_file or not lot.coa_sha256:
        raise Http404("this lot has no CoA")
    copy = verified_copy(lot.coa_file.name, lot.coa_sha256)
    if copy is None:
        return render(
            request,
            "core/forbidden.html",
            {"perm": f"an intact CoA: the stored file of {lot} no longer matches its SHA-256"},
            status=409,
        )
    response = FileResponse(copy, content_type="application/pdf", filename=lot.coa_file_name)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-SHA256"] = lot.coa_sha256
    return response


# --- master data ----------------------------------------------------------------------------
def _create_view(
    form_class: type[forms.Form],
    service: Callable[..., Any],
    noun: str,
    done: Callable[[Any], str],
    detail: str,
    back: str,
) -> Callable[..., HttpResponse]:
    """The page creating a master record (a material, a supplier): its form, then its page."""

    @needs(MatPerm.MASTER)
    @require_http_methods(["GET", "POST"])
    def view(request: HttpRequest) -> HttpResponse:
        return _action(
            request,
            form_class(request.POST or None),
            lambda data: service(actor=page_user(request), **data),
            title=f"New {noun}",
            submit=f"Create {noun}",
            done=done,
            success=lambda record: reverse(detail, args=[record.pk]),
            back=reverse(back),
        )

    return view


material_create = _create_view(
    mf.MaterialForm,
    services.create_material,
    "material",
    lambda m: f"{m.part_number} created.",
    "materials:material_detail",
    "materials:material_list",
)
supplier_create = _create_view(
    mf.SupplierForm,
    services.create_supplier,
    "supplier",
    lambda s: f"Supplier {s} created.",
    "materials:supplier_detail",
    "materials:supplier_list",
)


@needs(MatPerm.VIEW)
def material_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "materials/material_list.html",
        {
            "materials": (
                page := web_page(
                    request, selectors.materials().prefetch_related("supplier_links__supplier")
                )
            ),
            "page": page,
            "query": pager_query(request),
            "can_manage": has_perm(page_user(request), MatPerm.MASTER),
            "tab": "materials",
        },
    )


@needs(MatPerm.VIEW)
@require_http_methods(["GET", "POST"])
def material_detail(request: HttpRequest, material_id: int) -> HttpResponse:
    material = get_object_or_404(Material, pk=material_id)
    user = page_user(request)
    can_manage = has_perm(user, MatPerm.MASTER)
    add_form = mf.AddSupplierForm(request.POST or None) if can_manage else None
    status = 200
    if request.method == "POST":
        if add_form is None:
            return render(request, "core/forbidden.html", {"perm": MatPerm.MASTER}, status=403)
        status = 400
        if add_form.is_valid():
            try:
                services.approve_supplier_for_material(
                    actor=user,
                    material_id=material.pk,
                    supplier_id=add_form.cleaned_data["supplier"].pk,
                )
            except DomainError as exc:
                attach_error(add_form, exc)
                status = exc.status_code
            else:
                messages.success(request, "Supplier approved for this material.")
                return redirect("materials:material_detail", material_id=material.pk)
    record_type, record_id = record_ref(material)
    return render(
        request,
        "materials/material_detail.html",
        {
            "material": material,
            "links": selectors.active_links(material),
            "lots": selectors.lots(material_id=material.pk)[:50],
            "fefo": selectors.fefo(material),
            "can_manage": can_manage,
            "add_form": add_form,
            "timeline": core_selectors.timeline(record_type, record_id),
            "tab": "materials",
        },
        status=status,
    )


@needs(MatPerm.MASTER)
@require_http_methods(["GET", "POST"])
def material_edit(request: HttpRequest, material_id: int) -> HttpResponse:
    material = get_object_or_404(Material, pk=material_id)
    fields = (
        "name",
        "unit",
        "storage_condition",
        "qc_release_required",
        "reorder_level",
        "description",
    )
    initial = {f: getattr(material, f) for f in fields}
    form = mf.MaterialEditForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = dict(form.cleaned_data)
            reason = data.pop("reason")
            changed = {k: v for k, v in data.items() if v != initial.get(k)}
            try:
                services.update_material(
                    actor=page_user(request), material_id=material.pk, reason=reason, **changed
                )
            except DomainError as exc:
                attach_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, f"{material.part_number} corrected.")
                return redirect("materials:material_detail", material_id=material.pk)
    return _render_form(
        request,
        form,
        f"Correct {material.part_number}",
        "Save correction",
        status=status,
        back=reverse("materials:material_detail", args=[material.pk]),
    )


@needs(MatPerm.MASTER)
@require_http_methods(["GET", "POST"])
def material_supplier_remove(
    request: HttpRequest, material_id: int, supplier_id: int
) -> HttpResponse:
    material = get_object_or_404(Material, pk=material_id)
    supplier = get_object_or_404(Supplier, pk=supplier_id)
    form = mf.ReasonForm(request.POST or None)
    return _action(
        request,
        form,
        lambda data: services.remove_supplier_from_material(
            actor=page_user(request),
            material_id=material.pk,
            supplier_id=supplier.pk,
            reason=data["reason"],
        ),
        title=f"Remove {supplier} from {material.part_number}",
        submit="Remove",
        done=f"{supplier} removed from {material.part_number}.",
        success=reverse("materials:material_detail", args=[material.pk]),
        back=reverse("materials:material_detail", args=[material.pk]),
    )


@needs(MatPerm.VIEW)
def supplier_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "materials/supplier_list.html",
        {
            "suppliers": (page := web_page(request, selectors.suppliers())),
            "page": page,
            "query": pager_query(request),
            "today": now().date(),
            "can_manage": has_perm(page_user(request), MatPerm.MASTER),
            "tab": "suppliers",
        },
    )


@needs(MatPerm.VIEW)
def supplier_detail(request: HttpRequest, supplier_id: int) -> HttpResponse:
    supplier = get_object_or_404(Supplier, pk=supplier_id)
    record_type, record_id = record_ref(supplier)
    return render(
        request,
        "materials/supplier_detail.html",
        {
            "supplier": supplier,
            "today": now().date(),
            "links": supplier.material_links.filter(removed_at__isnull=True).select_related(
                "material"
            ),
            "lots": selectors.lots().filter(supplier=supplier)[:50],
            "can_manage": has_perm(page_user(request), MatPerm.MASTER),
            "timeline": core_selectors.timeline(record_type, record_id),
            "tab": "suppliers",
        },
    )


@needs(MatPerm.MASTER)
@require_http_methods(["GET", "POST"])
def supplier_status(request: HttpRequest, supplier_id: int) -> HttpResponse:
    supplier = get_object_or_404(Supplier, pk=supplier_id)
    form = mf.SupplierStatusForm(
        request.POST or None,
        initial={
            "status": supplier.status,
            "qualification_date": supplier.qualification_date,
            "reevaluation_due": supplier.reevaluation_due,
        },
    )
    return _action(
        request,
        form,
        lambda data: services.set_supplier_status(
            actor=page_user(request), supplier_id=supplier.pk, **data
        ),
        title=f"Change the status of {supplier}",
        submit="Save status",
        done=f"Status of {supplier} saved.",
        success=reverse("materials:supplier_detail", args=[supplier.pk]),
        intro="Only an approved supplier's lots can be released.",
        back=reverse("materials:supplier_detail", args=[supplier.pk]),
    )


# --- reports --------------------------------------------------------------------------------
@needs(MatPerm.VIEW)
def fefo_report(request: HttpRequest) -> HttpResponse:
    form = mf.FefoForm(request.GET or None)
    lots = selectors.fefo(form.cleaned_data["material"]) if form.is_valid() else []
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(
        request, "materials/fefo.html", {"form": form, "lots": lots, "tab": "fefo"}, status=status
    )


@needs(MatPerm.VIEW)
def low_stock_report(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "materials/low_stock.html",
        {
            "low": selectors.low_stock(),
            "stock": selectors.stock(),
            "by_location": selectors.on_hand_by_location(),
            "tab": "stock",
        },
    )


@needs(MatPerm.VIEW)
def expiring_report(request: HttpRequest) -> HttpResponse:
    form = mf.DaysForm(request.GET or None)
    days = 30
    status = 200
    if form.is_bound:
        if form.is_valid():
            days = form.cleaned_data["days"] if form.cleaned_data["days"] is not None else 30
        else:
            status = 400
    at = now()
    page = web_page(request, selectors.expiring_lots(days=days, at=at))
    context = {
        "form": form,
        "days": days,
        "page": page,
        "query": pager_query(request),
        "rows": [(lot, lot.is_expired(at)) for lot in page],
        "tab": "expiring",
    }
    return render(request, "materials/expiring.html", context, status=status)


# --- kits -----------------------------------------------------------------------------------
@needs(MatPerm.VIEW)
def kit_list(request: HttpRequest) -> HttpResponse:
    at = now()
    page = web_page(request, selectors.kits())
    return render(
        request,
        "materials/kit_list.html",
        {
            "page": page,
            "query": pager_query(request),
            "rows": [(k, selectors.check_kit_usable(k, at)) for k in page],
            "can_assemble": has_perm(page_user(request), MatPerm.INVENTORY),
            "tab": "kits",
        },
    )


@needs(MatPerm.INVENTORY)
@require_http_methods(["GET", "POST"])
def kit_create(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    form = mf.KitForm(
        request.POST or None,
        sites=_sites_where(user, MatPerm.INVENTORY),
        lots=selectors.lots(usable=True).order_by("material__part_number", "expiry_date"),
        initial=_initial_site(request),
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                kit = services.assemble_kit(
                    actor=user,
                    site_id=data["site"].pk,
                    name=data["name"],
                    location=data["location"],
                    remarks=data["remarks"],
                    components=form.components(),
                )
            except DomainError as exc:
                attach_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, f"{kit.kit_number} assembled.")
                return redirect("materials:kit_detail", kit_id=kit.pk)
    return _render_form(
        request,
        form,
        "Assemble a kit",
        "Assemble kit",
        status=status,
        intro="Only released, unexpired lots with stock are offered.",
        back=reverse("materials:kit_list"),
    )


@needs(MatPerm.VIEW)
def kit_detail(request: HttpRequest, kit_id: int) -> HttpResponse:
    kit = get_object_or_404(Kit.objects.select_related("site", "assembled_by"), pk=kit_id)
    record_type, record_id = record_ref(kit)
    return render(
        request,
        "materials/kit_detail.html",
        {
            "kit": kit,
            "usable": selectors.check_kit_usable(kit),
            "components": kit.components.select_related("lot__material"),
            "timeline": core_selectors.timeline(record_type, record_id),
            "tab": "kits",
        },
    )


# --- import ---------------------------------------------------------------------------------
@needs(MatPerm.IMPORT)
@require_http_methods(["GET", "POST"])
def import_lots(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    form = mf.ImportForm(
        request.POST or None,
        request.FILES or None,
        sites=_sites_where(user, MatPerm.IMPORT),
        initial=_initial_site(request),
    )
    errors: list[Any] = []
    more = 0
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                created = services.import_lots(
                    actor=user, site_id=form.cleaned_data["site"].pk, file=form.cleaned_data["file"]
                )
            except ImportRejected as exc:
                errors, more = exc.errors, exc.more
                form.add_error(
                    "file", "Nothing was imported: correct the rows below and upload again."
                )
            except DomainError as exc:
                attach_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, f"{len(created)} lot(s) imported into quarantine.")
                return redirect(reverse("materials:lot_list") + "?status=quarantine")
    return render(
        request,
        "materials/import.html",
        {
            "form": form,
            "errors": errors,
            "more": more,
            "columns": services.imports.COLUMNS + services.imports.OPTIONAL,
            "tab": "import",
        },
        status=status,
    )


@login_required
def import_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(services.lots_csv_template(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="lots-template.csv"'
    return response
