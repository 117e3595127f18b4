"""Load: simulated cell therapy specialists at once against `vein2vein serve` on PostgreSQL.

    .venv/bin/python benchmarks/load.py [USERS [ITERATIONS]]    (default 50 users, 1 round each)
    BENCH_WORKERS=N sets the gunicorn workers (default 2, for the 2 cores); BENCH_PORT the port.

Creates a throw-away PostgreSQL database next to DATABASE_URL's (the local test server when
unset; dropped at exit), runs `vein2vein migrate` and `vein2vein demo` into it, prepares the
records the rounds consume (below) and starts `vein2vein serve` (gunicorn, production
settings) on loopback. Each simulated user logs in through the login page (its session serves
the pages) and holds its own API tokens, made with `create_api_token` for the demo's
operator, verifier, QA reviewer and QC analyst (one each per user, so no two users share a
token row). The demo has one fully trained operator (Olivia Ortiz), so every user works as
her, with the verifier, QA and QC beside her.

A user's day: ITERATIONS rounds, each on a fresh apheresis bag, with a pause of 1 to 3 s
before every request (THINK; 0.3 to 1 s at the Prodigy, one scan after another), the users'
starts spread over 10 s (RAMP_S):

- once a day: goods-in of a material lot (POST /materials/lots, multipart with its CoA), the
  QC's list of lots in quarantine, the lot's QC release (signature);
- per round: the dashboard and goods-in pages; the bag's receipt (DIN, COI and date-of-birth
  scans) and its vein-to-vein timeline; a batch started for the order; the receipt operation
  (COI scan, cell count and sign-off, each verified with the verifier's signature); the
  batch read; the CD4/CD8 selection operation (Prodigy and cell-counter scans, three lot scans
  consuming from one shared lot per part as in a plant, the run, a sample, the count and the
  sign-off, both verified); the batch page, the batch list page and API, the order list;
  QA's review by exception, a QA signature ('reviewed') on the order, the deviation list and
  the audit trail. 31 requests a round (34 on the first), 8 with a password (9 on the first).

Prepared before the timing, through the services, since a receipt or a batch step cannot be
repeated: one order per round (enrolled, ordered, booked with today's capacity raised,
collected 3 h ago and handed to the courier: in transit, for the load to receive); one lot of
each part the selection consumes, received and released, holding enough for every batch; and
one Prodigy + cell-counter pair per 2.5 users (IQ/OQ/PQ approved, calibrated, in service, as
the equipment demo's). A unit serves one batch until its unit operation is signed off, so a user
may wait for a free pair (the total wait is printed; nothing is sent meanwhile). The orders
are made in two forked processes, the pairs one after another (see `prepare`).

Before the load one user alone (no pause) does a warm-up round, then BASELINE_ROUNDS rounds
that are measured. Prints per route template: count, p50, p95, p99 (ms) and the same route's
median alone; the requests with and without a password; errors (5xx, connection errors, any
status the scenario does not expect); throughput, CPU per request and how busy the machine
was; each worker's peak RSS (VmHWM, sampled from /proc every 0.2 s, as gunicorn recycles a
worker after 2,000 requests) against 300 MB; the ratio of p99 under load to p99 alone. Exits
non-zero on an error or a worker above 300 MB, not on latency (the machine may be busy).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import math
import multiprocessing
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _setup
import httpx

BIN = Path(sys.executable).parent
WORKERS = os.environ.get("BENCH_WORKERS") or "2"  # the machine's 2 cores
BUDGET_MB = 300
GOAL_P99_MS = 200
THINK = (1.0, 3.0)  # seconds before each request of a user under load (uniform)
AT_THE_PRODIGY = (0.3, 1.0)  # the same within the selection: one scan after another
RAMP_S = 10.0  # the users' first requests spread over this many seconds
USERS_PER_PAIR = 2.5  # Prodigy + cell-counter pairs: one for every 2.5 users
PAIR_WAIT_S = 120.0  # a user waiting longer for a free pair counts an error
BASELINE_ROUNDS = 2
SEED = 11
SELECTION_LOTS = {"tubing_set": "MAT-0110", "cd4_reagent": "MAT-0101", "cd8_reagent": "MAT-0102"}
GOODS_IN_PART = "MAT-0110"


@dataclass(frozen=True)
class Order:
    id: int
    coi: str
    din: str
    born: str  # the patient's date of birth, YYYYMMDD, as on the bag label


@dataclass
class Plan:
    password: str
    orders: list[Order]
    pairs: list[tuple[str, str]]  # (Prodigy, cell counter) equipment ids
    lots: dict[str, str]  # step key -> lot number
    goods_in: dict[str, int]  # site_id, material_id, supplier_id of the lot received
    coa: bytes
    tokens: list[dict[str, str]]  # per user: role -> raw API token


# --- preparation, through the services --------------------------------------------------------
def make_order(i: int, today: dt.date, ended: dt.datetime) -> Order:
    """Order i in transit: enrolled, ordered, booked, collected (ending `ended`), handed off."""
    from vein2vein.chain import selectors as chain_selectors
    from vein2vein.chain.demo import APHERESIS, CLINIC, MFG, PRODUCT, order_in_transit
    from vein2vein.core.models import Site, User

    order = order_in_transit(
        {
            "site_patient_id": f"LOAD-{i:05d}",
            "given_name": "Load",
            "family_name": f"Patient {i}",
            "date_of_birth": f"{1950 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "weight_kg": "70.0",
            "diagnosis": "Relapsed DLBCL (load benchmark)",
        },
        product=chain_selectors.products().get(code=PRODUCT),
        clinic_user=User.objects.get(username="clinic"),
        collector=User.objects.get(username="apheresis"),
        clinic=Site.objects.get(code=CLINIC),
        aph=Site.objects.get(code=APHERESIS),
        mfg=Site.objects.get(code=MFG),
        day=today,
        ended=ended,
    )
    return Order(order.pk, order.coi, order.collection.din, f"{order.patient.date_of_birth:%Y%m%d}")


def make_pair(k: int) -> tuple[str, str]:
    """Prodigy and cell counter k, qualified, calibrated and in service as the demo's units."""
    from vein2vein.chain.demo import MFG
    from vein2vein.core.models import Site
    from vein2vein.equipment import demo as equipment

    site = Site.objects.get(code=MFG)
    protocols = {stage: equipment._protocol(*spec) for stage, spec in equipment.PROTOCOLS.items()}
    pair = (f"CSP-L{k:02d}", f"CNT-L{k:02d}")
    for tag, name, kind, maker, model in (
        (pair[0], "CliniMACS Prodigy", "closed_system", "Miltenyi Biotec", "Prodigy"),
        (pair[1], "NucleoCounter NC-200", "cell_counter", "ChemoMetec", "NC-200"),
    ):
        unit = equipment.Unit(
            tag,
            f"{name} (load {k})",
            kind,
            maker,
            model,
            f"LOAD-{tag}",
            equipment.SUITE,
            (equipment._cal("Load benchmark calibration", 365, 30),),
        )
        equipment._unit(unit, site, protocols)
    return pair


def prepare(n_orders: int, n_pairs: int, n_people: int) -> Plan:
    """Through the services, with Django in this process on the load's database (DATABASE_URL
    set by the caller); the orders in two forked processes (the 2 cores)."""
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connections

    from vein2vein.chain import selectors as chain_selectors
    from vein2vein.chain import services as chain
    from vein2vein.chain.demo import MFG
    from vein2vein.core.demo import DEMO_PASSWORD
    from vein2vein.core.models import Site, User
    from vein2vein.core.services import create_api_token
    from vein2vein.core.time import in_zone, now
    from vein2vein.materials import selectors as materials_selectors
    from vein2vein.materials import services as materials
    from vein2vein.materials.demo import INSPECTED
    from vein2vein.materials.demo import PDF as COA

    people = {u.username: u for u in User.objects.all()}
    mfg = Site.objects.get(code=MFG)
    today = in_zone(now(), mfg.time_zone).date()
    (day,) = chain_selectors.calendar(mfg, today, 1)
    chain.set_capacity(
        actor=people["supervisor"],
        site_id=mfg.pk,
        start=today,
        end=today,
        capacity=day.booked + n_orders,
        reason="Load benchmark: today's collections",
    )

    # One released lot per part the selection consumes, enough for every batch.
    lots, goods_in = {}, {}
    for step_key, part in SELECTION_LOTS.items():
        material = materials_selectors.materials().get(part_number=part)
        link = next(
            link
            for link in materials_selectors.active_links(material)
            if link.supplier.status == "approved"
        )
        lot = materials.receive_lot(
            actor=people["operator"],
            site_id=mfg.pk,
            material_id=material.pk,
            supplier_id=link.supplier.pk,
            supplier_lot=f"LOAD-{part}",
            quantity=str(n_orders + 10),
            expiry_date=today + dt.timedelta(days=300),
            location="Load benchmark stock",
            inspection=INSPECTED,
            coa_file=SimpleUploadedFile(f"CoA-LOAD-{part}.pdf", COA),
        )
        materials.release_lot(
            actor=people["qc"], lot_id=lot.pk, password=DEMO_PASSWORD, reason="CoA reviewed"
        )
        lots[step_key] = lot.lot_number
        if part == GOODS_IN_PART:
            goods_in = {
                "site_id": mfg.pk,
                "material_id": material.pk,
                "supplier_id": link.supplier.pk,
            }

    tokens = [
        {
            role: create_api_token(
                actor=people[role], user=people[role], name=f"load user {i} {role}"[:100]
            )[1]
            for role in ("operator", "verifier", "qa", "qc")
        }
        for i in range(n_people)
    ]
    pairs = [make_pair(k) for k in range(1, n_pairs + 1)]
    connections.close_all()  # the forked processes open their own
    ended = now() - dt.timedelta(hours=3)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        jobs = [pool.submit(make_order, i, today, ended) for i in range(1, n_orders + 1)]
        orders = [job.result() for job in jobs]
    return Plan(DEMO_PASSWORD, orders, pairs, lots, goods_in, COA, tokens)


# --- measuring --------------------------------------------------------------------------------
class Failed(Exception):
    """A request failed (recorded as an error); the user's round stops there."""


@dataclass
class Recorder:
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    signed: list[float] = field(default_factory=list)  # requests carrying a password
    errors: list[str] = field(default_factory=list)
    waited: float = 0.0  # seconds users spent waiting for a free equipment pair

    def all_times(self) -> list[float]:
        return [ms for values in self.times.values() for ms in values]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class Specialist:
    """One simulated user: a browser session (pages) and API tokens (operator, verifier, QA,
    QC), pausing `think` seconds (a range) before each request, or not at all."""

    def __init__(
        self,
        n: int,
        client: httpx.AsyncClient,
        tokens: dict[str, str],
        plan: Plan,
        rec: Recorder,
        think: tuple[float, float] | None,
    ) -> None:
        self.n, self.client, self.tokens, self.plan, self.rec = n, client, tokens, plan, rec
        self.think = think
        self.at_the_prodigy = False
        self.rng = random.Random(SEED + n)
        self.lots_received = 0

    async def call(
        self,
        method: str,
        route: str,
        path: str,
        *,
        role: str | None = None,
        expect: int = 200,
        **kwargs: Any,
    ) -> httpx.Response:
        if self.think is not None:
            low, high = AT_THE_PRODIGY if self.at_the_prodigy else self.think
            await asyncio.sleep(self.rng.uniform(low, high))
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        start = time.perf_counter()
        try:
            response = await self.client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            self.record(method, route, start, kwargs)
            self.rec.errors.append(f"{method} {path}: {type(exc).__name__}: {exc}")
            raise Failed from exc
        self.record(method, route, start, kwargs)
        if response.status_code != expect:
            self.rec.errors.append(
                f"{method} {path} -> {response.status_code} (expected {expect}): "
                f"{' '.join(response.text.split())[:200]}"
            )
            raise Failed
        return response

    def record(self, method: str, route: str, start: float, kwargs: dict[str, Any]) -> None:
        ms = (time.perf_counter() - start) * 1000
        self.rec.times[f"{method:<4} {route}"].append(ms)
        if "password" in (kwargs.get("json") or {}):
            self.rec.signed.append(ms)

    async def login(self) -> None:
        page = await self.client.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token is not None, "no CSRF token on the login page"
        response = await self.client.post(
            "/accounts/login/",
            data={
                "username": "operator",
                "password": self.plan.password,
                "csrfmiddlewaretoken": token.group(1),
            },
            headers={"Referer": f"{self.client.base_url}accounts/login/"},
        )
        assert response.status_code == 302, f"login refused: {response.status_code}"

    async def step(self, batch: int, key: str, **body: str) -> dict[str, Any]:
        r = await self.call(
            "POST",
            "/api/v1/manufacturing/batches/{id}/steps/{step_key}",
            f"/api/v1/manufacturing/batches/{batch}/steps/{key}",
            role="operator",
            expect=201,
            json=body,
        )
        entry: dict[str, Any] = r.json()
        if entry["status"] == "awaiting_verification":
            await self.call(
                "POST",
                "/api/v1/manufacturing/entries/{id}/verify",
                f"/api/v1/manufacturing/entries/{entry['id']}/verify",
                role="verifier",
                json={"password": self.plan.password},
            )
        return entry

    async def goods_in(self) -> None:
        """A material lot received with its CoA, released by QC, and QC's quarantine list."""
        self.lots_received += 1
        fields = {
            **{k: str(v) for k, v in self.plan.goods_in.items()},
            "supplier_lot": f"LOAD-U{self.n:03d}-{self.lots_received}",
            "quantity": "20",
            "expiry_date": (dt.date.today() + dt.timedelta(days=300)).isoformat(),
            "location": "Goods-in fridge 2",
            **dict.fromkeys(
                ("packaging_intact", "labels_match", "temperature_ok", "coa_matches"), "true"
            ),
        }
        r = await self.call(
            "POST",
            "/api/v1/materials/lots",
            "/api/v1/materials/lots",
            role="operator",
            expect=201,
            data=fields,
            files={"coa_file": ("coa.pdf", self.plan.coa, "application/pdf")},
        )
        lot = r.json()["id"]
        await self.call(
            "GET",
            "/api/v1/materials/lots",
            "/api/v1/materials/lots?status=quarantine",
            role="qc",
        )
        await self.call(
            "POST",
            "/api/v1/materials/lots/{id}/release",
            f"/api/v1/materials/lots/{lot}/release",
            role="qc",
            json={"password": self.plan.password, "reason": "CoA reviewed against specification"},
        )

    async def round(self, order: Order, pool: asyncio.Queue[tuple[str, str]]) -> None:
        o = order.id
        await self.call("GET", "/", "/")
        await self.call("GET", "/chain/receive/", "/chain/receive/")
        await self.call(
            "POST",
            "/api/v1/chain/orders/{id}/receive",
            f"/api/v1/chain/orders/{o}/receive",
            role="operator",
            expect=201,
            json={
                "scans": [f"={order.din}00", f"&/{order.coi}", f"=#00{order.born}"],
                "arrival_temperature_c": "5.2",
                "logger_serial": "TL-20977",
                "logger_min_c": "3.8",
                "logger_max_c": "6.4",
                "logger_summary": "No alarms",
            },
        )
        await self.call(
            "GET",
            "/api/v1/chain/orders/{id}/timeline",
            f"/api/v1/chain/orders/{o}/timeline",
            role="operator",
        )
        r = await self.call(
            "POST",
            "/api/v1/manufacturing/batches",
            "/api/v1/manufacturing/batches",
            role="operator",
            expect=201,
            json={"order_id": o},
        )
        b = r.json()["id"]
        await self.step(b, "coi_receipt", scan=f"&/{order.coi}")
        await self.step(b, "apheresis_viable_cells", value="4800000000")
        await self.step(b, "receipt_signoff", password=self.plan.password)
        await self.call(
            "GET",
            "/api/v1/manufacturing/batches/{id}",
            f"/api/v1/manufacturing/batches/{b}",
            role="operator",
        )
        waiting = time.perf_counter()
        try:
            prodigy, counter = await asyncio.wait_for(pool.get(), PAIR_WAIT_S)
        except TimeoutError:
            self.rec.errors.append(f"no Prodigy + counter pair free for {PAIR_WAIT_S:.0f} s")
            raise Failed from None
        self.rec.waited += time.perf_counter() - waiting
        self.at_the_prodigy = True
        try:
            await self.step(b, "prodigy_setup", scan=prodigy)
            for key, lot in self.plan.lots.items():
                await self.step(b, key, scan=lot)
            await self.step(b, "selection_run")
            await self.step(b, "cell_counter_day0", scan=counter)
            await self.step(b, "sample_day0")
            await self.step(b, "viable_cells_day0", value="350000000")
            await self.step(b, "selection_signoff", password=self.plan.password)
        finally:
            self.at_the_prodigy = False
        # Not on failure: the units stay in use by the unfinished batch, and the next user's
        # refusal would count the same error twice.
        pool.put_nowait((prodigy, counter))
        await self.call("GET", "/manufacturing/batches/{id}/", f"/manufacturing/batches/{b}/")
        await self.call("GET", "/manufacturing/", "/manufacturing/")
        await self.call(
            "GET",
            "/api/v1/manufacturing/batches",
            "/api/v1/manufacturing/batches?status=in_progress",
            role="operator",
        )
        await self.call("GET", "/api/v1/chain/orders", "/api/v1/chain/orders", role="operator")
        await self.call(
            "GET",
            "/api/v1/manufacturing/batches/{id}/review",
            f"/api/v1/manufacturing/batches/{b}/review",
            role="qa",
        )
        await self.call(
            "POST",
            "/api/v1/signatures",
            "/api/v1/signatures",
            role="qa",
            expect=201,
            json={
                "record_type": "chain.therapyorder",
                "record_id": str(o),
                "meaning": "reviewed",
                "password": self.plan.password,
                "reason": "Chain of identity reviewed after receipt",
            },
        )
        await self.call(
            "GET", "/api/v1/quality/deviations", "/api/v1/quality/deviations", role="qa"
        )
        await self.call("GET", "/api/v1/audit/events", "/api/v1/audit/events?limit=50", role="qa")

    async def day(self, orders: list[Order], pool: asyncio.Queue[tuple[str, str]]) -> None:
        with contextlib.suppress(Failed):
            await self.goods_in()
        for order in orders:
            try:
                await self.round(order, pool)
            except Failed:
                continue


# --- the server -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_cpu_s(master: int) -> dict[int, float]:
    """CPU seconds (user + system) so far of each child of `master`, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in _setup.worker_peaks_mb(master):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return out


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of every core since boot, from /proc/stat."""
    values = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


@dataclass
class Run:
    alone: Recorder
    load: Recorder
    elapsed: float = 0.0
    peaks: dict[int, float] = field(default_factory=dict)  # worker pid -> VmHWM MB
    workers_cpu: float = 0.0  # CPU seconds of the workers during the load
    client_cpu: float = 0.0  # CPU seconds of this process (the users) during the load
    machine_busy: float = 0.0  # fraction of all cores busy during the load (anyone's work)


async def sample_rss(master: int, run: Run, stop: asyncio.Event) -> None:
    """Every worker's VmHWM, every 0.2 s: a recycled worker's peak is kept."""
    while not stop.is_set():
        for pid, mb in _setup.worker_peaks_mb(master).items():
            run.peaks[pid] = max(mb, run.peaks.get(pid, 0.0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)


async def drive(base: str, master: int, plan: Plan, users: int, rounds: int) -> Run:
    run = Run(Recorder(), Recorder())
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(master, run, stop))
    pool: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for pair in plan.pairs:
        pool.put_nowait(pair)
    timeout = httpx.Timeout(120.0)
    clients = [httpx.AsyncClient(base_url=base, timeout=timeout) for _ in range(users + 1)]
    try:
        # One user alone: a warm-up round, then BASELINE_ROUNDS measured, no pause.
        solo = Specialist(users, clients[users], plan.tokens[users], plan, Recorder(), None)
        await solo.login()
        orders = iter(plan.orders)
        await solo.day([next(orders)], pool)
        solo.rec = run.alone
        for _ in range(BASELINE_ROUNDS):
            with contextlib.suppress(Failed):
                await solo.round(next(orders), pool)
        crowd = [
            Specialist(i, clients[i], plan.tokens[i], plan, run.load, THINK) for i in range(users)
        ]
        gate = asyncio.Semaphore(int(WORKERS))

        async def login(s: Specialist) -> None:
            async with gate:
                await s.login()

        async def day(s: Specialist, todo: list[Order]) -> None:
            await asyncio.sleep(RAMP_S * s.n / users)  # people do not all click at once
            await s.day(todo, pool)

        await asyncio.gather(*(login(s) for s in crowd))
        days = [[next(orders) for _ in range(rounds)] for _ in crowd]
        cpu0, client0, machine0 = worker_cpu_s(master), time.process_time(), machine_cpu()
        start = time.perf_counter()
        await asyncio.gather(*(day(s, d) for s, d in zip(crowd, days, strict=True)))
        run.elapsed = time.perf_counter() - start
        cpu1, machine1 = worker_cpu_s(master), machine_cpu()
        run.client_cpu = time.process_time() - client0
        run.workers_cpu = sum(cpu1[pid] - cpu0.get(pid, 0.0) for pid in cpu1)
        run.machine_busy = (machine1[0] - machine0[0]) / (machine1[1] - machine0[1])
    finally:
        for client in clients:
            await client.aclose()
        stop.set()
        await sampler
    return run


def main(users: int, rounds: int) -> None:
    tmp = tempfile.mkdtemp(prefix="v2v-load-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    url = _setup.throwaway_postgres("v2v_load")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "VEIN2VEIN_DATA_DIR": tmp,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SETTINGS_MODULE": "vein2vein.settings",
    }
    for name in ("VEIN2VEIN_DEBUG", "CELERY_BROKER_URL", "WEB_WORKERS"):
        env.pop(name, None)
        os.environ.pop(name, None)
    os.environ.update(env)  # for `prepare`, Django in this process on the same database
    with _setup.timer() as t_demo:
        for args in (["migrate", "-v", "0"], ["demo"]):
            done = subprocess.run([str(BIN / "vein2vein"), *args], env=env, capture_output=True)
            if done.returncode:
                sys.exit(f"vein2vein {args[0]} failed:\n{done.stderr.decode(errors='replace')}")
    n_pairs = max(1, math.ceil(users / USERS_PER_PAIR))
    n_orders = users * rounds + 1 + BASELINE_ROUNDS
    with _setup.timer() as t_prep:
        plan = prepare(n_orders, n_pairs, users + 1)
    port = int(os.environ.get("BENCH_PORT") or free_port())
    base = f"http://127.0.0.1:{port}"
    log = Path(tmp, "server.log")
    with log.open("wb") as err:
        server = subprocess.Popen(
            [str(BIN / "vein2vein"), "serve", "--bind", f"127.0.0.1:{port}", "--workers", WORKERS],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        for _ in range(150):
            try:
                httpx.get(f"{base}/health/", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        run = asyncio.run(drive(base, server.pid, plan, users, rounds))
    finally:
        server.terminate()
        server.wait(timeout=30)
    errors = run.alone.errors + run.load.errors
    report(users, rounds, url, t_demo[0], t_prep[0], plan, run)
    if errors:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        print("server log (last lines):\n  " + "\n  ".join(tail))
        logged = Counter(postgres_errors(url.rsplit("/", 1)[1]))
        for message, n in logged.most_common(5):
            print(f"PostgreSQL log: {n} x {message}")
    if errors or max(run.peaks.values(), default=0.0) >= BUDGET_MB:
        sys.exit("load: errors, or a web worker above 300 MB")


def postgres_errors(name: str) -> list[str]:
    """The ERROR messages PostgreSQL logged for database `name`, when its log is readable here
    (Django logs no traceback for a 500 with DEBUG off: this names a deadlock, for one)."""
    found = []
    for path in sorted(Path("/var/log/postgresql").glob("*.log")):
        with contextlib.suppress(OSError):
            for line in path.read_text(errors="replace").splitlines():
                if f"@{name} ERROR:" in line:
                    found.append(line.split("ERROR:", 1)[1].strip())
    return found


def _row(label: str, t: list[float], alone: list[float] | None = None) -> str:
    solo = f"{statistics.median(alone):6.0f}" if alone else f"{'-':>6}"
    return f"{label:<58} {len(t):5d} {pct(t, 50):6.0f} {pct(t, 95):6.0f} {pct(t, 99):6.0f} {solo}"


def report(
    users: int, rounds: int, url: str, demo_s: float, prep_s: float, plan: Plan, run: Run
) -> None:
    load, alone = run.load, run.alone
    every, solo = load.all_times(), alone.all_times()
    n_errors = len(load.errors) + len(alone.errors)
    print(
        f"load: {users} users x {rounds} round(s) of a specialist's day, a pause of "
        f"{THINK[0]}-{THINK[1]} s before each request ({AT_THE_PRODIGY[0]}-{AT_THE_PRODIGY[1]} s "
        f"at the Prodigy), starts spread over {RAMP_S:.0f} s; "
        f"{WORKERS} gunicorn workers; PostgreSQL {url.rsplit('/', 1)[1]} (dropped at exit)"
    )
    print(
        f"set-up: migrate + demo {demo_s:.0f} s; prepared {len(plan.orders)} orders in transit, "
        f"{len(plan.pairs)} Prodigy + counter pairs, {len(plan.lots)} lots, "
        f"{4 * len(plan.tokens)} API tokens ({prep_s:.0f} s)"
    )
    print(f"{'route (ms)':<58} {'n':>5} {'p50':>6} {'p95':>6} {'p99':>6} {'alone':>6}")
    for route in sorted(load.times, key=lambda r: (r[5:], r)):
        print(_row(route, load.times[route], alone.times.get(route)))
    print(_row("all requests under load", every, solo))
    print(_row("  those with a password (signatures, sign-offs)", load.signed, alone.signed))
    unsigned = sorted(every)
    for ms in load.signed:
        unsigned.remove(ms)
    alone_unsigned = sorted(solo)
    for ms in alone.signed:
        alone_unsigned.remove(ms)
    print(_row("  those without", unsigned, alone_unsigned))
    print(_row(f"one user alone, sequential ({BASELINE_ROUNDS} rounds)", solo))
    print(
        f"throughput: {len(every) / run.elapsed:.1f} requests/s ({len(every)} in "
        f"{run.elapsed:.1f} s); CPU per request: workers {run.workers_cpu / len(every) * 1000:.0f}"
        f" ms, this client {run.client_cpu / len(every) * 1000:.1f} ms; machine busy "
        f"{run.machine_busy:.0%} of {os.cpu_count()} cores"
    )
    print(f"waiting for a free Prodigy + counter pair: {load.waited:.0f} s in all, over the users")
    print(
        f"ratio under load / alone: p99 {pct(every, 99) / pct(solo, 99):.1f}x, "
        f"p50 {pct(every, 50) / pct(solo, 50):.1f}x"
    )
    print(f"errors: {n_errors}")
    for line in (alone.errors + load.errors)[:10]:
        print(f"  {line}")
    rss = ", ".join(f"pid {pid} {mb:.0f} MB" for pid, mb in sorted(run.peaks.items()))
    print(f"web worker peak RSS (VmHWM): {rss} (budget {BUDGET_MB} MB)")
    p99, top = pct(every, 99), max(run.peaks.values(), default=0.0)
    verdict = {True: "met", False: "NOT met"}
    print(
        f"goal: p99 < {GOAL_P99_MS} ms {verdict[p99 < GOAL_P99_MS]} ({p99:.0f} ms); "
        f"0 errors {verdict[n_errors == 0]} ({n_errors}); "
        f"worker < {BUDGET_MB} MB {verdict[top < BUDGET_MB]} ({top:.0f} MB)"
    )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 50,
        int(sys.argv[2]) if len(sys.argv) > 2 else 1,
    )
