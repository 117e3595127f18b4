"""Chain-of-identity pages: orders and their vein-to-vein page, patients, the slot calendar,
collection, bag label and instructions, handoffs and goods-in receipt, products.

Thin: a form parses, a service decides, a refusal lands on the form with its 4xx status.
A user sees only the orders of their own sites (selectors.orders_for); a patient's name and
date of birth are shown only where selectors.can_see_identity says so, everyone else works
with the COI identifier.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from vein2vein.core import selectors as core_selectors
from vein2vein.core.actors import page_user
from vein2vein.core.audit import record_ref
from vein2vein.core.choices import SiteKind
from vein2vein.core.errors import DomainError, InterlockBlocked
from vein2vein.core.forms import attach_error, run_form
from vein2vein.core.models import Site, User
from vein2vein.core.pagination import pager_query, web_page
from vein2vein.core.permissions import has_perm
from vein2vein.core.time import in_zone, now
from vein2vein.core.views import needs
from vein2vein.web.lists import page_filter

from . import forms as cf
from . import selectors, services
from .choices import (
    ORDER_TRANSITIONS,
    BookingStatus,
    OrderAction,
    OrderStatus,
    ReceiptDecision,
    order_allows,
)
from .filters import OrderFilterSet, PatientFilterSet
from .models import Patient, SlotBooking, TherapyOrder, TherapyProduct
from .permissions import ChainPerm
from .services.identity import mask_personal

CALENDAR_DAYS = 28
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CLOCK_WARN_HOURS = 12


def _forbidden(request: HttpRequest, perm: str) -> HttpResponse:
    return render(request, "core/forbidden.html", {"perm": perm}, status=403)


def _nav(user: User) -> dict[str, bool]:
    """Which chain tabs this user gets (the pages check again)."""
    return {
        "patients": has_perm(user, ChainPerm.VIEW_IDENTITY),
        "receive": has_perm(user, ChainPerm.RECEIVE),
        "new_order": has_perm(user, ChainPerm.ORDER_CREATE),
    }


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    return render(request, template, {"nav": _nav(page_user(request)), **context}, status=status)


def _form_page(
    request: HttpRequest,
    form: forms.Form,
    title: str,
    submit: str,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    return _page(
        request,
        "chain/form.html",
        {"form": form, "title": title, "submit": submit, **extra},
        status=status,
    )


def _order_or_404(request: HttpRequest, order_id: int) -> TherapyOrder:
    found = selectors.order_for(page_user(request), order_id)
    if found is None:
        raise Http404("no such order at your sites")
    return found


def _sites_where(user: User, perm: str) -> Any:
    ids = [s.pk for s in core_selectors.my_sites(user) if has_perm(user, perm, s)]
    return Site.objects.filter(pk__in=ids).order_by("code")


def _preferred_site(request: HttpRequest, sites: Any) -> dict[str, Any]:
    site = getattr(request, "site", None)
    return {"site": site.pk} if site is not None and sites.filter(pk=site.pk).exists() else {}


# --- how times, durations and clocks read ------------------------------------------------------


def local_time(value: dt.datetime | None, zone: str) -> str:
    """'2026-03-02 14:05 CST': the wall clock where it happened."""
    if value is None:
        return ""
    return f"{in_zone(value, zone):%Y-%m-%d %H:%M %Z}"


def utc_time(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def elapsed(value: dt.timedelta | None) -> str:
    """'1 d 4 h 05 min', '3 h 20 min', '12 min'."""
    if value is None:
        return ""
    minutes = int(value.total_seconds() // 60)
    sign = "-" if minutes < 0 else ""
    days, rest = divmod(abs(minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h {mins:02d} min"
    if hours:
        return f"{sign}{hours} h {mins:02d} min"
    return f"{sign}{mins} min"


@dataclass(frozen=True)
class ClockView:
    """The stability clock as a badge: its words, and a tone (ok, warn, bad, muted)."""

    label: str
    tone: str
    deviation: str

    @classmethod
    def of(cls, order: TherapyOrder) -> ClockView:
        clock = selectors.stability_clock(order)
        if clock.deadline is None:
            tone = "muted"
        elif clock.expired:
            tone = "bad"
        elif not clock.running or clock.hours_left is None:
            tone = "muted"
        elif clock.hours_left < CLOCK_WARN_HOURS:
            tone = "warn"
        else:
            tone = "ok"
        return cls(clock.label, tone, clock.deviation)


def _identity_rule(user: User) -> Any:
    """can_see_identity per order, without a query per row for those who never may."""
    if not selectors.identity_site_ids(user):
        return lambda order: False
    return lambda order: selectors.can_see_identity(user, order)


def _collection_day(order: TherapyOrder) -> dt.date | None:
    bookings: list[SlotBooking] = getattr(order, "active_bookings", None) or []
    return bookings[0].day if bookings else None


# --- orders -----------------------------------------------------------------------------------


@needs(ChainPerm.VIEW)
def order_list(request: HttpRequest) -> HttpResponse:
    """The orders of the user's sites; a scanned COI opens its order."""
    user = page_user(request)
    filterset, rows, status = page_filter(request, OrderFilterSet, selectors.orders_for(user))
    if status != 200:
        rows = rows.none()
    elif filterset.exact and not filterset.form.cleaned_data.get("status"):
        found = list(rows[:2])
        if len(found) == 1:
            return redirect("chain:order_detail", order_id=found[0].pk)
    rows = rows.prefetch_related(
        Prefetch(
            "bookings",
            queryset=SlotBooking.objects.filter(
                status__in=[BookingStatus.BOOKED, BookingStatus.USED]
            ),
            to_attr="active_bookings",
        )
    )
    page = web_page(request, rows)
    sees = _identity_rule(user)
    return _page(
        request,
        "chain/order_list.html",
        {
            "form": filterset.form,
            "page": page,
            "rows": [
                {
                    "order": o,
                    "patient": o.patient if sees(o) else None,
                    "day": _collection_day(o),
                    "clock": ClockView.of(o),
                }
                for o in page
            ],
            "query": pager_query(request),
            "tab": "orders",
        },
        status=status,
    )


@dataclass(frozen=True)
class TimelineRow:
    seq: int
    kind: str
    item: str
    local: str
    utc: str
    from_custodian: str
    from_location: str
    to_custodian: str
    to_location: str
    temperature: Any
    scanned: list[str]
    matched: str
    recorded_by: str
    since_previous: str
    since_start: str
    late_entry: bool
    late_by: str
    status_after: str
    note: str
    site: str


def _timeline_rows(entries: list[selectors.TimelineEntry]) -> list[TimelineRow]:
    rows = []
    for entry in entries:
        e = entry.event
        rows.append(
            TimelineRow(
                seq=e.seq,
                kind=e.get_kind_display(),
                item=e.item,
                local=local_time(e.occurred_at, e.site.time_zone),
                utc=utc_time(e.occurred_at),
                from_custodian=e.from_custodian,
                from_location=e.from_location,
                to_custodian=e.to_custodian,
                to_location=e.to_location,
                temperature=e.temperature_c,
                scanned=[part for part in e.scanned_text.split(" | ") if part],
                matched=e.matched,
                recorded_by=e.recorded_by.printed_name,
                since_previous=elapsed(entry.since_previous),
                since_start=elapsed(entry.since_start),
                late_entry=entry.late_entry,
                late_by=elapsed(e.recorded_at - e.occurred_at) if entry.late_entry else "",
                status_after=e.get_status_after_display(),
                note=e.note,
                site=e.site.code,
            )
        )
    return rows


def _actions(
    user: User, o: TherapyOrder, has_collection: bool, quarantined: bool = False
) -> list[tuple[str, str, str]]:
    """(label, url, test id) of what this user may do next with this order."""
    sites = [o.ordering_site, o.collection_site, o.manufacturing_site]
    out: list[tuple[str, str, str]] = []

    def may(perm: str, where: list[Site]) -> bool:
        return any(has_perm(user, perm, s) for s in where)

    if order_allows(OrderAction.BOOK, o.status) and may(ChainPerm.SLOT_BOOK, sites):
        out.append(("Book collection slot", reverse("chain:order_book", args=[o.pk]), "book"))
    if order_allows(OrderAction.RESCHEDULE, o.status) and may(ChainPerm.SLOT_BOOK, sites):
        out.append(
            ("Reschedule or cancel booking", reverse("chain:order_book", args=[o.pk]), "book")
        )
    if order_allows(OrderAction.COLLECT, o.status) and may(
        ChainPerm.COLLECTION_RECORD, [o.collection_site]
    ):
        out.append(("Record collection", reverse("chain:order_collect", args=[o.pk]), "collect"))
    if has_collection:
        out.append(("Print bag label", reverse("chain:order_label", args=[o.pk]), "label"))
    out.append(("Instructions", reverse("chain:order_instructions", args=[o.pk]), "instructions"))
    if order_allows(OrderAction.HANDOFF, o.status) and may(ChainPerm.HANDOFF, sites):
        out.append(("Hand off", reverse("chain:order_handoff", args=[o.pk]), "handoff"))
    if order_allows(OrderAction.RECEIVE, o.status) and may(
        ChainPerm.RECEIVE, [o.manufacturing_site]
    ):
        out.append(("Receive", reverse("chain:order_receive", args=[o.pk]), "receive"))
    if quarantined and may(ChainPerm.RECEIPT_DISPOSITION, [o.manufacturing_site]):
        out.append(
            (
                "QA disposition of quarantine",
                reverse("chain:receipt_disposition", args=[o.pk]),
                "disposition",
            )
        )
    if OrderStatus.CANCELLED in ORDER_TRANSITIONS[o.status] and may(
        ChainPerm.ORDER_CANCEL, [o.ordering_site, o.manufacturing_site]
    ):
        out.append(("Cancel order", reverse("chain:order_cancel", args=[o.pk]), "cancel"))
    return out


@needs(ChainPerm.VIEW)
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    """The vein-to-vein page: identity, where the material is, the clock, every handoff."""
    user = page_user(request)
    o = _order_or_404(request, order_id)
    v2v = selectors.vein_to_vein(o)
    collection, receipt = v2v["collection"], v2v["receipt"]
    record_type, record_id = record_ref(o)
    return _page(
        request,
        "chain/order_detail.html",
        {
            "order": o,
            "identity": selectors.can_see_identity(user, o),
            "collection": collection,
            "collection_local": (
                f"{local_time(collection.started_at, collection.time_zone)} to "
                f"{local_time(collection.ended_at, collection.time_zone)}"
                if collection
                else ""
            ),
            "collection_duration": elapsed(collection.duration) if collection else "",
            "collection_utc": (
                f"{utc_time(collection.started_at)} to {utc_time(collection.ended_at)}"
                if collection
                else ""
            ),
            "receipt": receipt,
            "receipt_local": (
                local_time(receipt.received_at, o.manufacturing_site.time_zone) if receipt else ""
            ),
            "disposition_local": (
                local_time(receipt.disposition_at, o.manufacturing_site.time_zone)
                if receipt
                else ""
            ),
            "booking": v2v["booking"],
            "rows": _timeline_rows(v2v["timeline"]),
            "total": elapsed(v2v["total"]),
            "closed": v2v["closed"],
            "clock": ClockView.of(o),
            "deadline_local": local_time(o.stability_deadline, o.manufacturing_site.time_zone),
            "deadline_utc": utc_time(o.stability_deadline),
            "actions": _actions(
                user, o, collection is not None, bool(receipt and receipt.quarantined)
            ),
            "timeline": core_selectors.timeline(record_type, record_id),
            "tab": "orders",
        },
    )


@needs(ChainPerm.ORDER_CREATE)
@require_http_methods(["GET", "POST"])
def order_create(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    patients = selectors.patients_for(user).order_by("site__code", "site_patient_id")
    initial: dict[str, Any] = {}
    wanted = request.GET.get("patient", "")
    if wanted.isdigit() and patients.filter(pk=int(wanted)).exists():
        initial["patient"] = int(wanted)
    form = cf.OrderForm(
        request.POST or None,
        initial=initial,
        patients=patients,
        products=selectors.products(active_only=True),
        collection_sites=Site.objects.filter(
            is_active=True, kind__in=[SiteKind.APHERESIS, SiteKind.CLINICAL]
        ).order_by("code"),
        manufacturing_sites=selectors.manufacturing_sites(),
    )
    outcome = run_form(
        request,
        form,
        lambda d: services.create_order(
            actor=user,
            patient_id=d["patient"].pk,
            product_id=d["product"].pk,
            treating_physician=d["treating_physician"],
            requested_collection_date=d["requested_collection_date"],
            collection_site_id=d["collection_site"].pk,
            manufacturing_site_id=d["manufacturing_site"].pk,
        ),
    )
    if outcome.done and outcome.result is not None:
        o = outcome.result
        messages.success(request, f"Order {o.coi_eye_readable} created. Book a collection slot.")
        return redirect("chain:order_detail", order_id=o.pk)
    return _form_page(
        request,
        form,
        "New therapy order",
        "Create order",
        status=outcome.status,
        intro="The order gets its chain-of-identity (COI) identifier, printed on every label "
        "and scanned at every handoff.",
        back=reverse("chain:order_list"),
        tab="orders",
    )


@needs(ChainPerm.ORDER_CANCEL)
@require_http_methods(["GET", "POST"])
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    o = _order_or_404(request, order_id)
    form = cf.ReasonForm(request.POST or None)
    outcome = run_form(
        request,
        form,
        lambda d: services.cancel_order(
            actor=page_user(request), order_id=o.pk, reason=d["reason"]
        ),
    )
    if outcome.done:
        messages.success(request, f"Order {o.coi_eye_readable} cancelled.")
        return redirect("chain:order_detail", order_id=o.pk)
    return _form_page(
        request,
        form,
        f"Cancel order {o.coi_eye_readable}",
        "Cancel order",
        status=outcome.status,
        intro="A booked slot is released with the same reason. This cannot be undone.",
        order=o,
        back=reverse("chain:order_detail", args=[o.pk]),
        tab="orders",
    )


# --- slots ------------------------------------------------------------------------------------


def _site_today(site: Site) -> dt.date:
    return in_zone(now(), site.time_zone).date()


def _calendar(site: Site, start: dt.date) -> dict[str, Any]:
    """The days from `start`, laid out in weeks from Monday."""
    return {
        "days": selectors.calendar(site, start, CALENDAR_DAYS),
        "pad": range(start.weekday()),
        "weekday_names": WEEKDAY_NAMES,
    }


@needs(ChainPerm.SLOT_BOOK)
@require_http_methods(["GET", "POST"])
def order_book(request: HttpRequest, order_id: int) -> HttpResponse:
    """The slot calendar of the order's manufacturing site: book, reschedule or cancel."""
    user = page_user(request)
    o = _order_or_404(request, order_id)
    booking = SlotBooking.objects.filter(order=o, status=BookingStatus.BOOKED).first()
    action = request.POST.get("action", "") if request.method == "POST" else ""
    book_form = cf.BookForm(request.POST if action == "book" else None)
    move_form = cf.RescheduleForm(request.POST if action == "reschedule" else None)
    cancel_form = cf.ReasonForm(request.POST if action == "cancel" else None, prefix="cancel")
    status = 200
    if request.method == "POST":
        form, run, done = {
            "book": (
                book_form,
                lambda d: services.book_slot(actor=user, order_id=o.pk, day=d["day"]),
                "Collection booked for {day}.",
            ),
            "reschedule": (
                move_form,
                lambda d: services.reschedule_slot(
                    actor=user, order_id=o.pk, day=d["day"], reason=d["reason"]
                ),
                "Collection moved to {day}.",
            ),
            "cancel": (
                cancel_form,
                lambda d: services.cancel_booking(actor=user, order_id=o.pk, reason=d["reason"]),
                "Booking cancelled: the slot is free again.",
            ),
        }.get(action, (None, None, ""))
        if form is None or run is None:
            return _page(
                request,
                "core/forbidden.html",
                {"message": "Choose book, reschedule or cancel."},
                status=400,
            )
        outcome = run_form(request, form, run)
        if outcome.done:
            day = form.cleaned_data.get("day")
            messages.success(request, done.format(day=f"{day:%a %Y-%m-%d}" if day else ""))
            return redirect("chain:order_detail", order_id=o.pk)
        status = outcome.status
    mfg = o.manufacturing_site
    chosen = request.POST.get("day", "") if request.method == "POST" else ""
    return _page(
        request,
        "chain/book.html",
        {
            "order": o,
            "booking": booking,
            **_calendar(mfg, _site_today(mfg)),
            "chosen": chosen,
            "book_form": book_form,
            "move_form": move_form,
            "cancel_form": cancel_form,
            "can_plan": order_allows(OrderAction.BOOK, o.status)
            or order_allows(OrderAction.RESCHEDULE, o.status),
            "tab": "orders",
        },
        status=status,
    )


def _calendar_site(request: HttpRequest, sites: QuerySet[Site]) -> Site | None:
    wanted = request.GET.get("site", "")
    if wanted.isdigit():
        return sites.filter(pk=int(wanted)).first()
    here: Site | None = getattr(request, "site", None)
    if here is not None and sites.filter(pk=here.pk).exists():
        return here
    mine = sites.filter(pk__in=core_selectors.user_sites(page_user(request)))
    return mine.first() or sites.first()


@needs(ChainPerm.VIEW)
@require_http_methods(["GET", "POST"])
def capacity_calendar(request: HttpRequest) -> HttpResponse:
    """Capacity and bookings per manufacturing site; the supervisor sets capacity here."""
    user = page_user(request)
    sites = selectors.manufacturing_sites()
    site = _calendar_site(request, sites)
    if site is None and request.GET.get("site"):
        raise Http404("no such manufacturing site")
    can_manage = site is not None and has_perm(user, ChainPerm.CAPACITY_MANAGE, site)
    today = _site_today(site) if site is not None else now().date()
    form = (
        cf.CapacityForm(
            request.POST or None,
            initial={"start": today, "end": today + dt.timedelta(days=CALENDAR_DAYS - 1)},
        )
        if can_manage
        else None
    )
    status = 200
    if request.method == "POST":
        if form is None or site is None:
            return _forbidden(request, ChainPerm.CAPACITY_MANAGE)
        outcome = run_form(
            request,
            form,
            lambda d: services.set_capacity(
                actor=user,
                site_id=site.pk,
                start=d["start"],
                end=d["end"],
                capacity=d["capacity"],
                weekdays=d["weekdays"] or None,
                reason=d["reason"],
            ),
        )
        if outcome.done:
            messages.success(request, f"Capacity set for {len(outcome.result or [])} day(s).")
            return redirect(reverse("chain:capacity_calendar") + f"?site={site.pk}")
        status = outcome.status
    return _page(
        request,
        "chain/calendar.html",
        {
            "sites": sites,
            "site": site,
            **(_calendar(site, today) if site else {"days": []}),
            "form": form,
            "tab": "calendar",
        },
        status=status,
    )


# --- collection, label, instructions ------------------------------------------------------------


@needs(ChainPerm.COLLECTION_RECORD)
@require_http_methods(["GET", "POST"])
def order_collect(request: HttpRequest, order_id: int) -> HttpResponse:
    o = _order_or_404(request, order_id)
    zone = o.collection_site.time_zone
    form = cf.CollectionForm(request.POST or None, zone=zone)
    outcome = run_form(
        request,
        form,
        lambda d: services.record_collection(actor=page_user(request), order_id=o.pk, **d),
    )
    if outcome.done and outcome.result is not None:
        c = outcome.result
        messages.success(
            request,
            f"Collection recorded: DIN {c.din_eye_readable} {c.din_check_character}. "
            "The stability clock is running. Print the bag label.",
        )
        return redirect("chain:order_detail", order_id=o.pk)
    return _form_page(
        request,
        form,
        f"Record the collection of {o.coi_eye_readable}",
        "Record collection",
        status=outcome.status,
        intro=f"Times are the local time at {o.collection_site.code} ({zone}). Recording starts "
        f"the stability clock: {o.product.max_hours_to_manufacture} h to manufacturing.",
        order=o,
        back=reverse("chain:order_detail", args=[o.pk]),
        tab="orders",
    )


@needs(ChainPerm.VIEW)
def order_label(request: HttpRequest, order_id: int) -> HttpResponse:
    """The apheresis bag label, to print. Patient identifiers only for those who may see them;
    everyone else sees the date of birth masked in its barcode text too."""
    user = page_user(request)
    o = _order_or_404(request, order_id)
    collection = selectors.vein_to_vein(o)["collection"]
    if collection is None:
        return _page(
            request,
            "core/forbidden.html",
            {"message": f"Order {o.coi_eye_readable} has no collection yet: no bag to label."},
            status=409,
        )
    identity = selectors.can_see_identity(user, o)
    dob_text = f"=#00{o.patient.date_of_birth:%Y%m%d}"
    return _page(
        request,
        "chain/label.html",
        {
            "order": o,
            "collection": collection,
            "identity": identity,
            "collected_local": local_time(collection.ended_at, collection.time_zone),
            "collected_utc": utc_time(collection.ended_at),
            "din_text": f"={collection.din}00",
            "coi_text": f"&/{o.coi}",
            "dob_text": dob_text if identity else mask_personal(dob_text),
            "tab": "orders",
        },
    )


@needs(ChainPerm.VIEW)
def order_instructions(request: HttpRequest, order_id: int) -> HttpResponse:
    o = _order_or_404(request, order_id)
    v2v = selectors.vein_to_vein(o)
    return _page(
        request,
        "chain/instructions.html",
        {"order": o, "booking": v2v["booking"], "tab": "orders"},
    )


# --- custody: handoff and goods-in ---------------------------------------------------------------


@dataclass
class Attempt:
    """A posted form run through a service, keeping the refusal itself (not only its text on
    the form): the scan pages show it in red and react to its kind."""

    result: Any = None
    status: int = 200
    refusal: DomainError | None = None


def _attempt(request: HttpRequest, form: forms.Form, action: Any) -> Attempt:
    if request.method != "POST":
        return Attempt()
    if not form.is_valid():
        return Attempt(status=400)
    try:
        return Attempt(result=action(form.cleaned_data))
    except DomainError as exc:
        attach_error(form, exc)
        return Attempt(status=exc.status_code, refusal=exc)


@needs(ChainPerm.HANDOFF)
@require_http_methods(["GET", "POST"])
def order_handoff(request: HttpRequest, order_id: int) -> HttpResponse:
    o = _order_or_404(request, order_id)
    form = cf.HandoffForm(request.POST or None)
    outcome = _attempt(
        request,
        form,
        lambda d: services.hand_off(actor=page_user(request), order_id=o.pk, **d),
    )
    if outcome.result is not None:
        messages.success(
            request, f"Handoff #{outcome.result.seq} recorded: {outcome.result.matched} matched."
        )
        return redirect("chain:order_detail", order_id=o.pk)
    if outcome.refusal is not None:
        # A refused scan is scanned again from scratch: left in the field, the next scan
        # would be glued onto it. The field keeps its autofocus for the scanner.
        form.data = form.data.copy()
        form.data["scanned_text"] = ""
    return _page(
        request,
        "chain/handoff.html",
        {
            "form": form,
            "order": o,
            "clock": ClockView.of(o),
            "refusal": outcome.refusal.message if outcome.refusal else "",
            "tab": "orders",
        },
        status=outcome.status,
    )


@needs(ChainPerm.RECEIVE)
def goods_in(request: HttpRequest) -> HttpResponse:
    """Collected material on its way to the user's manufacturing sites, soonest deadline first."""
    rows = [
        {"order": o, "clock": ClockView.of(o)}
        for o in selectors.awaiting_receipt(page_user(request))[:200]
    ]
    return _page(request, "chain/goods_in.html", {"rows": rows, "tab": "receive"})


@needs(ChainPerm.RECEIVE)
@require_http_methods(["GET", "POST"])
def order_receive(request: HttpRequest, order_id: int) -> HttpResponse:
    """Scan the bag label (a keyboard-wedge scanner types each barcode and Enter), record the
    arrival temperature and logger data, accept or reject. A refused scan shows in red with
    its reason and deviation number; the scan field is then emptied for a fresh scan."""
    o = _order_or_404(request, order_id)
    form = cf.ReceiveForm(request.POST or None)
    decision = request.POST.get("decision", ReceiptDecision.ACCEPTED)
    outcome = _attempt(
        request,
        form,
        lambda d: services.receive_collection(
            actor=page_user(request), order_id=o.pk, decision=decision, **d
        ),
    )
    if outcome.result is not None:
        receipt = outcome.result
        if receipt.quarantined:
            # Not a success: the bag is here but held; say so in amber, not green.
            messages.warning(
                request,
                f"Bag received into QUARANTINE: {receipt.arrival_temperature_c} °C or the "
                f"logger is outside {o.product.fresh_min_c} to {o.product.fresh_max_c} °C; "
                f"deviation {', '.join(receipt.deviations)} raised. No batch can start until "
                "QA dispositions the receipt.",
            )
            return redirect("chain:order_detail", order_id=o.pk)
        verdict = "accepted" if receipt.decision == ReceiptDecision.ACCEPTED else "rejected"
        note = (
            ""
            if receipt.temperature_ok
            else " Temperature outside the fresh range: deviation "
            + ", ".join(receipt.deviations)
            + " raised."
        )
        messages.success(request, f"Bag {verdict} at goods-in.{note}")
        return redirect("chain:order_detail", order_id=o.pk)
    refusal = outcome.refusal
    # A scan that proved the wrong identity is scanned again from scratch; a missing scan
    # (DOB not scanned yet) keeps what was scanned so far.
    clear_scans = isinstance(refusal, InterlockBlocked)
    # The expected DIN is not on this page: shown beside the scan field it invites typing it
    # instead of scanning the bag; the order page shows it once the bag is received.
    return _page(
        request,
        "chain/receive.html",
        {
            "form": form,
            "order": o,
            "clock": ClockView.of(o),
            "refusal": refusal.message if refusal else "",
            "scans_value": "" if clear_scans else form["scans"].value() or "",
            "can_receive": order_allows(OrderAction.RECEIVE, o.status),
            "tab": "receive",
        },
        status=outcome.status,
    )


@needs(ChainPerm.RECEIPT_DISPOSITION)
@require_http_methods(["GET", "POST"])
def receipt_disposition(request: HttpRequest, order_id: int) -> HttpResponse:
    """QA accepts (the material may start a batch) or rejects a quarantined receipt, signed."""
    o = _order_or_404(request, order_id)
    receipt = selectors.vein_to_vein(o)["receipt"]
    if receipt is None or not receipt.quarantined:
        raise Http404("no quarantined receipt for this order")
    form = cf.ReceiptDispositionForm(request.POST or None)
    outcome = run_form(
        request,
        form,
        lambda d: services.disposition_receipt(
            actor=page_user(request), order_id=o.pk, request=request, **d
        ),
    )
    if outcome.done:
        done = outcome.result
        if done.decision == ReceiptDecision.ACCEPTED:
            messages.success(request, "Quarantine released by QA: the material may start a batch.")
        else:
            messages.warning(request, "Receipt rejected by QA: the order is rejected.")
        return redirect("chain:order_detail", order_id=o.pk)
    return _form_page(
        request,
        form,
        f"QA disposition of the receipt of {o.coi_eye_readable}",
        "Sign disposition",
        status=outcome.status,
        intro=(
            f"Received {local_time(receipt.received_at, o.manufacturing_site.time_zone)} at "
            f"{receipt.arrival_temperature_c} °C (fresh range {o.product.fresh_min_c} to "
            f"{o.product.fresh_max_c} °C); deviation {', '.join(receipt.deviations)}. "
            "Your password signs the disposition."
        ),
        order=o,
        back=reverse("chain:order_detail", args=[o.pk]),
        tab="orders",
    )


# --- patients ----------------------------------------------------------------------------------


def _patient_or_404(request: HttpRequest, patient_id: int) -> Patient:
    found = selectors.patients_for(page_user(request)).filter(pk=patient_id).first()
    if found is None:
        raise Http404("no such patient at your sites")
    return found


@needs(ChainPerm.VIEW_IDENTITY)
def patient_list(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    rows = selectors.patients_for(user).order_by("site__code", "site_patient_id")
    filterset, rows, status = page_filter(request, PatientFilterSet, rows)
    q = filterset.form.cleaned_data.get("q", "") if filterset.is_bound and status == 200 else ""
    page = web_page(request, rows)
    return _page(
        request,
        "chain/patient_list.html",
        {
            "page": page,
            "q": q,
            "query": pager_query(request),
            "can_enroll": has_perm(user, ChainPerm.PATIENT_MANAGE),
            "tab": "patients",
        },
        status=status,
    )


@needs(ChainPerm.PATIENT_MANAGE)
@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest) -> HttpResponse:
    user = page_user(request)
    sites = _sites_where(user, ChainPerm.PATIENT_MANAGE)
    form = cf.PatientForm(
        request.POST or None, sites=sites, initial=_preferred_site(request, sites)
    )

    def enroll(d: dict[str, Any]) -> Patient:
        values = dict(d)
        at = values.pop("site")
        return services.enroll_patient(actor=user, site_id=at.pk, **values)

    outcome = run_form(request, form, enroll)
    if outcome.done and outcome.result is not None:
        messages.success(request, f"Patient {outcome.result.site_patient_id} enrolled.")
        return redirect("chain:patient_detail", patient_id=outcome.result.pk)
    return _form_page(
        request,
        form,
        "Enroll a patient",
        "Enroll",
        status=outcome.status,
        intro="Name and date of birth are seen only by the clinical sites; everyone else "
        "works with the order's COI identifier.",
        back=reverse("chain:patient_list"),
        tab="patients",
    )


@needs(ChainPerm.VIEW_IDENTITY)
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = page_user(request)
    p = _patient_or_404(request, patient_id)
    record_type, record_id = record_ref(p)
    return _page(
        request,
        "chain/patient_detail.html",
        {
            "patient": p,
            "orders": [
                {"order": o, "clock": ClockView.of(o)}
                for o in selectors.orders_for(user).filter(patient=p)
            ],
            "can_manage": has_perm(user, ChainPerm.PATIENT_MANAGE, p.site),
            "can_order": has_perm(user, ChainPerm.ORDER_CREATE, p.site),
            "timeline": core_selectors.timeline(record_type, record_id),
            "tab": "patients",
        },
    )


@needs(ChainPerm.PATIENT_MANAGE)
@require_http_methods(["GET", "POST"])
def patient_correct(request: HttpRequest, patient_id: int) -> HttpResponse:
    p = _patient_or_404(request, patient_id)
    initial = {f: getattr(p, f) for f in services.orders.PATIENT_EDITABLE}
    form = cf.PatientCorrectForm(request.POST or None, initial=initial)

    def correct(d: dict[str, Any]) -> Patient:
        values = dict(d)
        why = values.pop("reason")
        changed = {k: v for k, v in values.items() if v != initial.get(k)}
        return services.correct_patient(
            actor=page_user(request), patient_id=p.pk, reason=why, **changed
        )

    outcome = run_form(request, form, correct)
    if outcome.done:
        messages.success(request, f"Patient {p.site_patient_id} corrected.")
        return redirect("chain:patient_detail", patient_id=p.pk)
    return _form_page(
        request,
        form,
        f"Correct patient {p.site_patient_id}",
        "Save correction",
        status=outcome.status,
        intro="The old values and your reason stay in the audit trail.",
        back=reverse("chain:patient_detail", args=[p.pk]),
        tab="patients",
    )


# --- products ---------------------------------------------------------------------------------


@needs(ChainPerm.VIEW)
def product_list(request: HttpRequest) -> HttpResponse:
    return _page(
        request,
        "chain/product_list.html",
        {
            "products": selectors.products(),
            "can_manage": has_perm(page_user(request), ChainPerm.PRODUCT_MANAGE),
            "tab": "products",
        },
    )


@needs(ChainPerm.PRODUCT_MANAGE)
@require_http_methods(["GET", "POST"])
def product_create(request: HttpRequest) -> HttpResponse:
    form = cf.ProductForm(request.POST or None)
    outcome = run_form(
        request, form, lambda d: services.create_product(actor=page_user(request), **d)
    )
    if outcome.done and outcome.result is not None:
        messages.success(request, f"Product {outcome.result.code} created.")
        return redirect("chain:product_list")
    return _form_page(
        request,
        form,
        "New therapy product",
        "Create product",
        status=outcome.status,
        back=reverse("chain:product_list"),
        tab="products",
    )


@needs(ChainPerm.PRODUCT_MANAGE)
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(TherapyProduct, pk=product_id)
    initial = {f: getattr(product, f) for f in ("code", *services.orders.PRODUCT_EDITABLE)}
    form = cf.ProductEditForm(request.POST or None, initial=initial)

    def update(d: dict[str, Any]) -> TherapyProduct:
        values = dict(d)
        why = values.pop("reason")
        values.pop("code", None)
        changed = {k: v for k, v in values.items() if v != initial.get(k)}
        return services.update_product(
            actor=page_user(request), product_id=product.pk, reason=why, **changed
        )

    outcome = run_form(request, form, update)
    if outcome.done:
        messages.success(request, f"Product {product.code} updated.")
        return redirect("chain:product_list")
    record_type, record_id = record_ref(product)
    return _form_page(
        request,
        form,
        f"Edit {product.code}",
        "Save changes",
        status=outcome.status,
        intro="Orders already placed keep this product; the audit trail keeps the old values.",
        back=reverse("chain:product_list"),
        timeline=core_selectors.timeline(record_type, record_id),
        tab="products",
    )
