"""`vein2vein simulate --orders N`: a plant's history through the real services, for the scale
benchmark and for trying pages on a realistic volume."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import math
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from unittest import mock

from django.core.files.base import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from vein2vein.chain import selectors as chain_selectors
from vein2vein.chain.demo import APHERESIS, CLINIC, MFG, PRODUCT, DemoPatient
from vein2vein.core.demo import DEMO_PASSWORD
from vein2vein.core.demo import load_demo as load_core_demo
from vein2vein.core.models import AuditEvent, Site, User
from vein2vein.core.time import now
from vein2vein.documents.pdf import minimal_pdf
from vein2vein.equipment import selectors as equipment_selectors
from vein2vein.equipment import services as equipment
from vein2vein.materials import selectors as materials_selectors
from vein2vein.materials import services as materials
from vein2vein.materials.choices import LotStatus
from vein2vein.materials.demo import INSPECTED
from vein2vein.materials.demo import PDF as COA_PDF
from vein2vein.quality import services as quality
from vein2vein.training import selectors as training_selectors

from ... import demo, mbr, services
from ...choices import BatchStatus
from ...models import MasterRecord

PREFIX = "SIM-"
STOCK = Decimal(1000)  # each replenishing lot: enough for many batches
DEVIATION_EVERY = 10
PER_DAY = 80  # orders a simulated day: MFG-PHL's capacity is at most 100 collections a day
MAX_DAYS = 150  # the demo's APS qualification lasts 6 months and is not renewed here
DAY = dt.timedelta(days=1)
# Each batch starts 21 h before its order is written, its first steps entered late with the
# times they were done: the operator must have been trained a day before a simulated day.
READY_AFTER = DAY
SERVICE_AHEAD_DAYS = 3  # a unit's calibration or maintenance is done when due this soon


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Clock:
    """The plant's clock while the command runs: django.utils.timezone.now (which
    `core.time.now`, auto_now fields and every service read) `back` behind the wall clock, at
    the wall clock's speed. `back` only ever shrinks (the clock moves on, never back) and never
    goes below zero (nothing is stamped in the future)."""

    def __init__(self) -> None:
        self.back = dt.timedelta(0)
        self._wall = timezone.now

    def now(self) -> dt.datetime:
        return self._wall() - self.back

    def wall(self) -> dt.datetime:
        return self._wall().astimezone(dt.UTC)

    def move_to(self, back: dt.timedelta) -> None:
        self.back = max(dt.timedelta(0), min(self.back, back))

    def move_on_to(self, moment: dt.datetime) -> None:
        """On to `moment` (no further than the wall clock, never back)."""
        self.move_to(self.wall() - moment)

    @contextmanager
    def running(self, back: dt.timedelta) -> Iterator[_Clock]:
        self.back = back
        with mock.patch.object(timezone, "now", self.now):
            yield self


def _spec(i: int) -> DemoPatient:
    return DemoPatient(
        f"{PREFIX}{i:06d}",
        "Simulated",
        f"Patient {i}",
        f"{1950 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}",
        f"{55 + i % 40}.0",
        "Relapsed DLBCL (simulated)",
        "completed",
    )


class Command(BaseCommand):
    help = (
        "Simulate a plant's history: N patients, each enrolled, ordered, booked, collected, "
        "handed to the courier and received at MFG-PHL, then a batch started and every step of "
        "the MBR recorded through to completion (material scans consume released lots, "
        "equipment scans log usage, sign-offs and verifications are signed with passwords), "
        "every step through the real services, so every row has its audit event and the chain "
        "verifies. What it reuses: the demo (`vein2vein demo`, loaded first if missing) for "
        "sites, people, training, materials, equipment and the effective MBR; "
        "manufacturing.demo's `_received` and `_completed_batch` for each patient (collected "
        "24 h before its order is written, the batch started 21 h before, its first steps "
        "entered late with the times they were done, the 18-hour activation timer kept). Also "
        "through the services: a new lot of any material that runs short (received, CoA, "
        "inspection, released with a signature), more capacity for the day (set_capacity), "
        "the calibration or maintenance of a unit the batches scan when it falls due (signed, "
        f"with its certificate), and a deviation raised by hand for every {DEVIATION_EVERY}th "
        "batch. Nothing is bulk-created. "
        "The clock: a step's performer must have been trained when the step was done, no "
        "training service states an earlier time, and MFG-PHL collects at most 100 a day, so "
        f"the history is spread over past days, {PER_DAY} orders a day, on a simulated clock. "
        "On a fresh database (no demo, nothing recorded in the period) the demo's sites, "
        "people, training and stock are written --history-days ago (default: the days the "
        "orders need, plus 2), its batches a day later, and the orders from the day after "
        "the operator's training is a day old, the clock moving on a day every "
        f"{PER_DAY} orders and running at the wall clock's speed in between. On a database "
        "that holds the demo the days start after its last recorded event. Every row and "
        "audit event is stamped with that clock: never in the future, never before an event "
        "already recorded, so the chain's order is the time order; a simulated plant's times "
        "are made up, as its patients are: never run it on a database holding real records. "
        "When the days do not fit before now it refuses, writing nothing (run it on a fresh "
        f"database); more than {MAX_DAYS} days would outlast the demo's 6-month APS "
        "qualification. Resumable: patients SIM-000001.. that exist are skipped, so a second "
        "run with the same N writes nothing and a larger N adds the rest. Streams: one patient "
        "at a time, nothing kept, so memory stays flat; prints progress, orders/s, the batches "
        "completed and peak RSS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, required=True, help="patients (orders) in all")
        parser.add_argument(
            "--every", type=int, default=0, help="print progress every N orders (default N/20)"
        )
        parser.add_argument(
            "--history-days",
            type=int,
            default=0,
            help="on a fresh database, how many days back the demo is written (default: the "
            f"days --orders needs at {PER_DAY} a day, plus 2); room for later, larger runs",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        total = options["orders"]
        if total < 0:
            raise CommandError("--orders must be 0 or more")
        every = options["every"] or max(1, total // 20)
        days = options["history_days"] or math.ceil(total / PER_DAY) + 2
        if not 2 <= days <= MAX_DAYS + 2:
            raise CommandError(f"--history-days must be from 2 to {MAX_DAYS + 2}")
        clock = _Clock()
        fresh = self._fresh(days * DAY)
        # A fresh plant starts `days` back; a plant with a history right after its last event.
        last = AuditEvent.objects.order_by("-seq").values_list("occurred_at", flat=True).first()
        back = days * DAY if fresh or last is None else clock.wall() - last
        with clock.running(back):
            self._demo(clock, fresh=fresh)
            if fresh:
                self.stdout.write(
                    f"simulate: a fresh database: the demo written as of {days} days ago"
                )
            self._simulate(clock, total, every)

    @staticmethod
    def _fresh(history: dt.timedelta) -> bool:
        """No demo yet, and nothing recorded in the period: the clock may go back."""
        if len(demo._users()) == 8:
            return False
        return not AuditEvent.objects.filter(occurred_at__gt=now() - history).exists()

    def _simulate(self, clock: _Clock, total: int, every: int) -> None:
        users = demo._users()
        product = chain_selectors.products().filter(code=PRODUCT).first()
        if product is None or len(users) < 8:
            raise CommandError("the demo did not load (sites, people or product missing)")
        mfg = Site.objects.get(code=MFG)
        clinic, aph = Site.objects.get(code=CLINIC), Site.objects.get(code=APHERESIS)
        master = services.effective_master_record(product)
        if master is None:
            raise CommandError("no effective master batch record for the demo product")
        needs = self._needs(master.definition)
        done = set(
            chain_selectors.patients_for(users["clinic"])
            .filter(site=clinic, site_patient_id__startswith=PREFIX)
            .values_list("site_patient_id", flat=True)
        )
        todo = [i for i in range(1, total + 1) if _spec(i).site_patient_id not in done]
        first = self._first_day(clock, users["operator"], todo)
        if todo:
            days = math.ceil(len(todo) / PER_DAY)
            self.stdout.write(
                f"simulate: {len(todo):,} orders, {PER_DAY} a day: {days} simulated day(s) from "
                f"{first:%Y-%m-%d %H:%M} UTC"
            )
        start, made, completed = time.perf_counter(), 0, 0
        for n, i in enumerate(todo):
            if n % PER_DAY == 0:
                clock.move_on_to(first + n // PER_DAY * DAY)
                if not self._can_complete(users["operator"], master):
                    raise CommandError(
                        f"the operator was not trained 21 h before {now():%Y-%m-%d %H:%M} UTC"
                    )
                self._service_due(users, mfg)
            spec = _spec(i)
            self._restock(needs, users, mfg)
            demo._capacity(users["supervisor"], mfg)
            ended = now() - dt.timedelta(hours=demo.START_HOURS_AGO + 3)
            order = demo._received(spec, users, product, clinic=clinic, aph=aph, mfg=mfg, end=ended)
            batch = demo._completed_batch(order, users)
            completed += batch.status == BatchStatus.COMPLETED
            if i % DEVIATION_EVERY == 0:
                quality.create_deviation(
                    actor=users["operator"],
                    site_id=mfg.pk,
                    title=f"Simulated: late label print for {batch.number}",
                    description="Simulated deviation: the bag label was printed after the step.",
                    category="documentation",
                    source_type="manufacturing.batch",
                    source_id=str(batch.pk),
                )
            made += 1
            if made % every == 0 or made == len(todo):
                spent = time.perf_counter() - start
                self.stdout.write(
                    f"  {i:,}/{total:,} orders ({made:,} new, {total - len(todo):,} existing), "
                    f"day {now():%Y-%m-%d}, {spent:.0f} s, {made / spent:.2f} orders/s, "
                    f"peak RSS {_peak_rss_mb():.0f} MB"
                )
        spent = time.perf_counter() - start
        rate = f", {made / spent:.2f} orders/s" if made else ""
        self.stdout.write(
            f"simulate: {made:,} orders written ({completed:,} batches completed, "
            f"{made - completed:,} in progress), {total - len(todo):,} already there; "
            f"{spent:.1f} s{rate}; peak RSS {_peak_rss_mb():.0f} MB"
        )

    @staticmethod
    def _first_day(clock: _Clock, operator: User, todo: list[int]) -> dt.datetime:
        """When the first simulated day starts: after the last recorded event and a day after
        the operator's last training; refused when the days needed do not fit before now."""
        last = AuditEvent.objects.order_by("-seq").values_list("occurred_at", flat=True).first()
        trained = [a.completed_at for a in training_selectors.completed_assignments(operator)]
        trained += [q.granted_at for q in training_selectors.current_qualifications(operator)]
        ready = [m + READY_AFTER for m in trained if m is not None]
        first = max([m for m in (last, *ready) if m is not None], default=now())
        days = math.ceil(len(todo) / PER_DAY)
        if days > MAX_DAYS:
            raise CommandError(
                f"{len(todo):,} orders at {PER_DAY} a day need {days} days: more than "
                f"{MAX_DAYS}, which the demo's 6-month APS qualification would not outlast"
            )
        if days and first + (days - 1) * DAY > clock.wall():
            raise CommandError(
                f"{len(todo):,} orders at {PER_DAY} a day need {days} days from "
                f"{first:%Y-%m-%d %H:%M} UTC (after the last recorded event, the operator "
                "trained a day before), which do not fit before now: nothing written. Run it "
                "on a fresh database (with --history-days for room), or later"
            )
        return first

    @staticmethod
    def _service_due(users: dict[str, User], site: Site) -> None:
        """The calibration or maintenance of each unit the batches scan that falls due within
        SERVICE_AHEAD_DAYS, done now and passed (signed by QC, a certificate for a
        calibration)."""
        tags = {v["unit"] for v in demo.VALUES.values() if "unit" in v}
        for row in equipment_selectors.due_plans(within_days=SERVICE_AHEAD_DAYS, site=site):
            plan = row.plan
            if plan.equipment.equipment_id not in tags:
                continue
            certificate = None
            if plan.kind == "calibration":
                tag = plan.equipment.equipment_id
                pdf = minimal_pdf(f"Calibration certificate {tag}", (plan.title, "Result: pass"))
                certificate = File(io.BytesIO(pdf), name=f"{tag}-calibration-{now():%Y%m%d}.pdf")
            equipment.record_service(
                actor=users["qc"],
                plan_id=plan.pk,
                performed_at=now(),
                result="pass",
                password=DEMO_PASSWORD,
                certificate=certificate,
                remarks="Simulated: within tolerance.",
            )

    @staticmethod
    def _can_complete(operator: User, master: MasterRecord) -> bool:
        """Was the operator trained for each late-entered step of a batch started now?"""
        started = now() - dt.timedelta(hours=demo.START_HOURS_AGO)
        stated = {k: started + dt.timedelta(minutes=m) for k, m in demo.STATED.items()}
        return demo._can_back_date(operator, master, stated)

    @staticmethod
    def _demo(clock: _Clock, *, fresh: bool) -> None:
        """The demo (idempotent), through the same loaders as `vein2vein demo`; on a fresh
        database the clock moves on a day before the manufacturing demo, whose completed
        batch needs the operator trained a day before."""
        from vein2vein.core.management.commands.demo import APP_DEMOS

        load_core_demo()
        for module_name in APP_DEMOS:
            if fresh and module_name == demo.__name__:
                clock.move_to(clock.back - DAY)
            importlib.import_module(module_name).load_demo()

    @staticmethod
    def _needs(definition: dict[str, Any]) -> dict[str, Decimal]:
        """What one batch consumes of each part (a step's quantity, or 100 when the quantity
        comes from an earlier step's reading)."""
        needs: dict[str, Decimal] = {}
        for step in mbr.steps(definition):
            if step["kind"] == "material" and step.get("part"):
                qty = Decimal(100) if step.get("quantity_from") else Decimal(str(step["quantity"]))
                needs[step["part"]] = needs.get(step["part"], Decimal(0)) + qty
        return needs

    @staticmethod
    def _restock(needs: dict[str, Decimal], users: dict[str, User], site: Site) -> None:
        """A new released lot of each part one batch would run short of (goods-in and QC
        release through the materials services), with the attributes its CoA states."""
        for part, qty in needs.items():
            if demo._released(part, qty) is not None:
                continue
            material = materials_selectors.materials().filter(part_number=part).get()
            link = next(
                (
                    link
                    for link in materials_selectors.active_links(material)
                    if link.supplier.status == "approved"
                ),
                None,
            )
            if link is None:
                raise CommandError(f"no approved supplier for {part}")
            stamp = f"SIM-{now():%Y%m%d%H%M%S%f}"
            # What the CoA states of the lot (a vector's titer, which a formula reads), as the
            # lot it replaces stated it.
            last = (
                materials_selectors.lots(material_id=material.pk, status=LotStatus.RELEASED)
                .exclude(attributes={})
                .order_by("-pk")
                .first()
            )
            lot = materials.receive_lot(
                actor=users["operator"],
                site_id=site.pk,
                material_id=material.pk,
                supplier_id=link.supplier.pk,
                supplier_lot=stamp,
                quantity=str(max(STOCK, qty * 20)),
                expiry_date=now().date() + dt.timedelta(days=300),
                location="Simulated stock",
                inspection=INSPECTED,
                coa_file=SimpleUploadedFile(f"CoA-{stamp}.pdf", COA_PDF),
                attributes=dict(last.attributes) if last is not None else None,
            )
            materials.release_lot(
                actor=users["qc"],
                lot_id=lot.pk,
                password=DEMO_PASSWORD,
                reason="Simulated: CoA reviewed against specification",
            )
