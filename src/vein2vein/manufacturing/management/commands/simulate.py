"""`vein2vein simulate --orders N`: a plant's history through the real services, for the scale
benchmark and for trying pages on a realistic volume."""

from __future__ import annotations

import datetime as dt
import importlib
import resource
import time
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError, CommandParser

from vein2vein.chain import selectors as chain_selectors
from vein2vein.chain.demo import APHERESIS, CLINIC, MFG, PRODUCT, DemoPatient
from vein2vein.core.demo import DEMO_PASSWORD
from vein2vein.core.demo import load_demo as load_core_demo
from vein2vein.core.models import Site, User
from vein2vein.core.time import now
from vein2vein.materials import selectors as materials_selectors
from vein2vein.materials import services as materials
from vein2vein.materials.demo import INSPECTED
from vein2vein.materials.demo import PDF as COA_PDF
from vein2vein.quality import services as quality

from ... import demo, mbr, services

PREFIX = "SIM-"
STOCK = Decimal(1000)  # each replenishing lot: enough for many batches
DEVIATION_EVERY = 10


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
        "handed to the courier and received at MFG-PHL, then a batch started and its steps "
        "recorded (material scans consume released lots, equipment scans log usage, sign-offs "
        "and verifications are signed with passwords), every step through the real services, "
        "so every row has its audit event and the chain verifies. What it reuses: the demo "
        "(`vein2vein demo`, loaded first if missing) for sites, people, training, materials, "
        "equipment and the effective MBR; manufacturing.demo's `_received` and "
        "`_completed_batch` for each patient. Also through the services: a new lot of any "
        "material that runs short (received, CoA, inspection, released with a signature), "
        "more capacity for today (set_capacity), and a deviation raised by hand for every "
        f"{DEVIATION_EVERY}th batch. Nothing is bulk-created. A batch runs to completion when the "
        "operator's training is older than the batch's back-dated start (21 h); on a fresh "
        "database it stops, in progress, at the 18-hour activation timer, as the demo's does. "
        "Resumable: patients SIM-000001.. that exist are skipped, so a second run with the "
        "same N writes nothing and a larger N adds the rest. Streams: one patient at a time, "
        "nothing kept, so memory stays flat; prints progress and peak RSS."
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
        self._demo()
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
        start, made, skipped = time.perf_counter(), 0, 0
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
        self.stdout.write(
            f"simulate: {made:,} orders written, {skipped:,} already there; "
            f"peak RSS {_peak_rss_mb():.0f} MB"
        )

    def _demo(self) -> None:
        """The demo (idempotent), through the same loaders as `vein2vein demo`."""
        from vein2vein.core.management.commands.demo import APP_DEMOS

        load_core_demo()
        for module_name in APP_DEMOS:
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
        release through the materials services)."""
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
            )
            materials.release_lot(
                actor=users["qc"],
                lot_id=lot.pk,
                password=DEMO_PASSWORD,
                reason="Simulated: CoA reviewed against specification",
            )
