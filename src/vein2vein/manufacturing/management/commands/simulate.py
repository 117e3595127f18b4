"""`vein2vein simulate --orders N`: a plant's history through the real services, for the scale
benchmark and for trying pages on a realistic volume."""

from __future__ import annotations

import datetime as dt
import importlib
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from vein2vein.chain import selectors as chain_selectors
from vein2vein.chain.demo import APHERESIS, CLINIC, MFG, PRODUCT, DemoPatient
from vein2vein.core.demo import DEMO_PASSWORD
from vein2vein.core.demo import load_demo as load_core_demo
from vein2vein.core.models import AuditEvent, Site, User
from vein2vein.core.time import now
from vein2vein.materials import selectors as materials_selectors
from vein2vein.materials import services as materials
from vein2vein.materials.choices import LotStatus
from vein2vein.materials.demo import INSPECTED
from vein2vein.materials.demo import PDF as COA_PDF
from vein2vein.quality import services as quality

from ... import demo, mbr, services
from ...choices import BatchStatus
from ...models import MasterRecord

PREFIX = "SIM-"
STOCK = Decimal(1000)  # each replenishing lot: enough for many batches
DEVIATION_EVERY = 10
# A fresh plant's clock: the demo's sites, people, training and stock as of DEMO_BACK ago, then
# the orders from ORDERS_BACK ago on, so the operator's training is two days old at each batch's
# back-dated start (21 h before its order is written) and the 18-hour timer can be kept.
DEMO_BACK = dt.timedelta(days=3)
ORDERS_BACK = dt.timedelta(days=1)


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

    def move_to(self, back: dt.timedelta) -> None:
        self.back = max(dt.timedelta(0), min(self.back, back))

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
        f"and a deviation raised by hand for every {DEVIATION_EVERY}th batch. Nothing is "
        "bulk-created. The clock: a step's performer must have been trained when the step was "
        "done, and no training service states an earlier time, so on a fresh database (no "
        "demo, no audit event in the last "
        f"{DEMO_BACK.days} days) the command runs on a simulated clock: the demo's sites, "
        f"people, training and stock are written as of {DEMO_BACK.days} days ago, then the "
        f"clock moves on to {ORDERS_BACK.days} day ago for the manufacturing demo and the "
        "orders and runs at the wall clock's speed from there. Every row and audit event is "
        "stamped with that clock (never in the future, never before an event already "
        "recorded; the chain's order is the time order), so a simulated plant's times are "
        "made up, as its patients are: never run it on a database holding real records. On a "
        "database that already holds the demo it runs on the wall clock; if the demo's "
        "training is less than a day old there, the batches stop, in progress, at the "
        "activation timer, as the demo's do, and the command says so. Resumable: patients "
        "SIM-000001.. that exist are skipped, so a second run with the same N writes nothing "
        "and a larger N adds the rest. Streams: one patient at a time, nothing kept, so "
        "memory stays flat; prints progress, orders/s, the batches completed and peak RSS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, required=True, help="patients (orders) in all")
        parser.add_argument(
            "--every", type=int, default=0, help="print progress every N orders (default N/20)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        total = options["orders"]
        if total < 0:
            raise CommandError("--orders must be 0 or more")
        every = options["every"] or max(1, total // 20)
        clock = _Clock()
        back = DEMO_BACK if self._fresh() else dt.timedelta(0)
        with clock.running(back):
            self._demo(clock)
            clock.move_to(ORDERS_BACK)
            if clock.back:
                self.stdout.write(
                    f"simulate: a fresh database: the demo written as of {DEMO_BACK.days} days "
                    f"ago, the orders on a clock {ORDERS_BACK.days} day behind the wall clock"
                )
            self._simulate(total, every)

    @staticmethod
    def _fresh() -> bool:
        """No demo yet, and nothing recorded in the last DEMO_BACK: the clock may go back."""
        if len(demo._users()) == 8:
            return False
        return not AuditEvent.objects.filter(occurred_at__gt=now() - DEMO_BACK).exists()

    def _simulate(self, total: int, every: int) -> None:
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
        if total and not self._can_complete(users["operator"], master):
            self.stdout.write(
                "simulate: the operator's training is less than a day old on this database's "
                "clock: each batch stops, in progress, at the 18-hour activation timer"
            )
        start, made, skipped, completed = time.perf_counter(), 0, 0, 0
        for i in range(1, total + 1):
            spec = _spec(i)
            if chain_selectors.patient_enrolled(site=clinic, site_patient_id=spec.site_patient_id):
                skipped += 1
                continue
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
            if made % every == 0 or i == total:
                spent = time.perf_counter() - start
                self.stdout.write(
                    f"  {i:,}/{total:,} orders ({made:,} new, {skipped:,} existing) "
                    f"{spent:.0f} s, {made / spent:.2f} orders/s, peak RSS {_peak_rss_mb():.0f} MB"
                )
        spent = time.perf_counter() - start
        rate = f", {made / spent:.2f} orders/s" if made else ""
        self.stdout.write(
            f"simulate: {made:,} orders written ({completed:,} batches completed, "
            f"{made - completed:,} in progress), {skipped:,} already there; {spent:.1f} s{rate}; "
            f"peak RSS {_peak_rss_mb():.0f} MB"
        )

    @staticmethod
    def _can_complete(operator: User, master: MasterRecord) -> bool:
        """Was the operator trained for each late-entered step of a batch started now?"""
        started = now() - dt.timedelta(hours=demo.START_HOURS_AGO)
        stated = {k: started + dt.timedelta(minutes=m) for k, m in demo.STATED.items()}
        return demo._can_back_date(operator, master, stated)

    @staticmethod
    def _demo(clock: _Clock) -> None:
        """The demo (idempotent), through the same loaders as `vein2vein demo`; the clock
        moves on to ORDERS_BACK before the manufacturing demo, whose completed batch needs
        the operator trained a day before."""
        from vein2vein.core.management.commands.demo import APP_DEMOS

        load_core_demo()
        for module_name in APP_DEMOS:
            if module_name == demo.__name__:
                clock.move_to(ORDERS_BACK)
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
