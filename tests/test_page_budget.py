"""Every page and every API read keeps a fixed query budget, as every demo role that may see it.

The routes come from the URL configuration, so a new route is covered without being listed here;
its URL arguments are filled from the demo's objects by FILLERS (by route name and argument, or
by argument alone). A route that answers GET and whose arguments no filler knows fails the test,
naming the argument. A route answering 405 to GET (POST only) is skipped by itself.

Per request: at most `BUDGET` queries, and no query shape more than `MAX_REPEATS` times (an N+1);
no 5xx; no write to a GMP table. 401, 403, 404 and a redirect to the login page mean "this role
may not see it"; a GET route no role sees at all is a failure too (a filler pointing nowhere).
The checker itself is tested on a deliberate N+1 (`test_the_guard_*`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest
from django.db.models import Count, Model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import Client
from django.urls import path

from tests.core.helpers import DEMO_USERNAMES
from tests.page_budget import (
    BUDGET,
    PER_ROW_FROM,
    Measured,
    Route,
    measure,
    one_row_url,
    per_row,
    problems,
    routes,
    rows,
)
from vein2vein.core.demo import load_demo as load_core_demo
from vein2vein.core.management.commands.demo import APP_DEMOS
from vein2vein.core.models import Site, User
from vein2vein.core.services import create_api_token

pytestmark = pytest.mark.xdist_group("page_budget")  # one demo load, on one worker

ROLES = DEMO_USERNAMES

# GET routes not requested, each with its reason. Keep this tiny.
EXCLUDED = {
    # The catch-all under /api/v1/ answers 404 for every path by design: nothing to measure.
    "^api/v1/(?P<rest>.*)$": "the API's unknown-route 404",
    # ninja's pattern for the API root has no operation: a 404 by design.
    "api/v1/": "the API root has no operation",
    # QA's disposition of a quarantined receipt: the demo has no quarantined receipt, and the
    # page is a 404 without one.
    "chain/orders/<int:order_id>/receipt/disposition/": "no quarantined receipt in the demo",
    # Removing a record's link to a deviation: the demo links no record to a deviation.
    "quality/deviation-links/<int:pk>/<slug:step>/": "no deviation link in the demo",
    # A certificate of analysis exists once a batch is released: the demo releases LUH-1008's
    # batch only when it is ready (on a fresh demo it stops at the activation timer).
    "release/batches/<int:batch_id>/certificate.pdf": "no released batch in a fresh demo",
    "api/v1/release/batches/<int:batch_id>/certificate.pdf": "no released batch in a fresh demo",
}

# Query strings a read needs (its required filters), by route name.
QUERIES: dict[str, Callable[[], str]] = {
    "api:fefo": lambda: "?part_number=" + _attr("materials.Material", "part_number", "lots")(),
    "api:lot_usable": lambda: "?quantity=1",
    "api:slot_calendar": lambda: f"?site_id={_site()}",
    # /api/v1/signatures is named after its first operation (the POST that signs).
    "api:sign": lambda: f"?record_type=core.site&record_id={_site()}",
    "core:sign": lambda: f"?record_type=core.site&record_id={_site()}",
}

# "May not see it": refused, hidden, or sent to log in.
NOT_SEEN = {401, 403, 404}
# Tables a GET may write to: the session and the API token's last use (not GMP data).
BOOKKEEPING_TABLES = {"django_session", "core_apitoken"}
# An export (a download) is a signed checkpoint of the audit trail's head (docs/adr 0002).
EXPORT_CHECKPOINT = {"core_auditcheckpoint", "core_auditevent"}


def _most(model: type[Model], related: str, **filters: object) -> Model:
    """The demo object with the most `related` rows: where a per-row query would show."""
    found = (
        model._default_manager.filter(**filters).annotate(_n=Count(related)).order_by("-_n", "pk")
    ).first()
    assert found is not None, f"the demo has no {model.__name__}"
    return found


def _pk(model_path: str, related: str | None = None, **filters: object) -> Callable[[], str]:
    def fill() -> str:
        app_label, name = model_path.split(".")
        from django.apps import apps

        model = apps.get_model(app_label, name)
        if related:
            return str(_most(model, related, **filters).pk)
        found = model._default_manager.filter(**filters).order_by("pk").first()
        assert found is not None, f"the demo has no {model_path} {filters or ''}"
        return str(found.pk)

    return fill


def _attr(model_path: str, attr: str, related: str | None = None) -> Callable[[], str]:
    def fill() -> str:
        from django.apps import apps

        model = apps.get_model(*model_path.split("."))
        obj = _most(model, related) if related else model._default_manager.order_by("pk").first()
        assert obj is not None, f"the demo has no {model_path}"
        return str(getattr(obj, attr))

    return fill


def _site() -> str:
    return str(Site.objects.get(code="MFG-PHL").pk)


def _operator() -> str:
    return str(User.objects.get(username="operator").pk)


def _next_step() -> str:
    from vein2vein.manufacturing import selectors
    from vein2vein.manufacturing.models import Batch

    batch = Batch.objects.get(pk=_pk("manufacturing.Batch", "entries")())
    steps = selectors.next_steps(batch) or selectors.step_states(batch)
    return steps[0].key


# URL argument -> the demo value, by (route name, argument) first, then by argument alone.
FILLERS: dict[str | tuple[str, str], Callable[[], str]] = {
    # core
    "site_id": _site,
    "user_id": _operator,
    # documents
    "version_id": _pk("documents.DocumentVersion", "document__versions"),
    "number": _attr("documents.Document", "number", "versions"),
    # training
    ("core:role_revoke", "assignment_id"): _pk("core.RoleAssignment", revoked_at__isnull=True),
    "assignment_id": _pk("training.TrainingAssignment"),
    "curriculum_id": _pk("training.Curriculum", "items"),
    "item_id": _pk("training.CurriculumItem"),
    "qualification_id": _pk("training.Qualification"),
    "code": _attr("training.QualificationType", "code"),
    # quality
    ("quality:deviation_detail", "pk"): _pk("quality.Deviation", "links"),
    ("quality:capa_detail", "pk"): _pk("quality.Capa", "actions"),
    ("quality:change_detail", "pk"): _pk("quality.ChangeControl", "tasks"),
    ("quality:deviation_step", "pk"): _pk("quality.Deviation", "links"),
    ("quality:deviation_step", "step"): lambda: "cancel",
    ("quality:capa_step", "pk"): _pk("quality.Capa", "actions"),
    ("quality:capa_step", "step"): lambda: "close",
    ("quality:action_step", "pk"): _pk("quality.CapaAction"),
    ("quality:action_step", "step"): lambda: "complete",
    ("quality:check_step", "pk"): _pk("quality.EffectivenessCheck"),
    ("quality:check_step", "step"): lambda: "record",
    ("quality:change_step", "pk"): _pk("quality.ChangeControl", "tasks"),
    ("quality:change_step", "step"): lambda: "cancel",
    ("quality:task_step", "pk"): _pk("quality.ChangeTask"),
    ("quality:task_step", "step"): lambda: "complete",
    "deviation_id": _pk("quality.Deviation", "links"),
    "capa_id": _pk("quality.Capa", "actions"),
    "change_id": _pk("quality.ChangeControl", "tasks"),
    # materials
    "lot_id": _pk("materials.Lot", "transactions"),
    "material_id": _pk("materials.Material", "lots"),
    "supplier_id": _pk("materials.Supplier", "materials"),
    "kit_id": _pk("materials.Kit", "components"),
    ("materials:lot_step", "step"): lambda: "hold",
    # equipment
    "tag": _attr("equipment.Equipment", "equipment_id", "qualifications"),
    "equipment_id": _attr("equipment.Equipment", "equipment_id", "qualifications"),
    ("equipment:impact", "pk"): _pk("equipment.ServiceRecord"),
    ("equipment:certificate", "pk"): _pk("equipment.ServiceRecord"),
    ("equipment:interval", "pk"): _pk("equipment.MaintenancePlan"),
    ("equipment:approve", "pk"): _pk("equipment.QualificationRecord"),
    ("equipment:end_usage", "pk"): _pk("equipment.Usage"),
    "record_id": _pk("equipment.ServiceRecord"),
    # chain
    "order_id": _pk("chain.TherapyOrder", "custody"),
    "patient_id": _pk("chain.Patient", "orders"),
    "product_id": _pk("chain.TherapyProduct"),
    # manufacturing
    "batch_id": _pk("manufacturing.Batch", "entries"),
    "step_key": _next_step,
    "entry_id": _pk("manufacturing.StepEntry"),
    "mbr_id": _pk("manufacturing.MasterRecord"),
    "master_record_id": _pk("manufacturing.MasterRecord"),
    # qc
    "method_id": _pk("qc.TestMethod", "versions"),
    "spec_id": _pk("qc.Specification", "criteria"),
    "sample_id": _pk("qc.Sample", "results"),
    "shipment_id": _pk("qc.Shipment"),
    ("qc:result_file", "result_id"): _pk("qc.TestResult", file_sha256__gt=""),
    ("qc:result_plot", "result_id"): _pk("qc.TestResult", file_sha256__gt=""),
    "result_id": _pk("qc.TestResult"),
    "oos_id": _pk("qc.OosInvestigation"),
    # web
    "slug": lambda: "qc",  # an area not built yet
}


def load_full_demo() -> None:
    """What `vein2vein demo` does."""
    load_core_demo()
    for name in APP_DEMOS:
        importlib.import_module(name).load_demo()


def _fill(route: Route) -> tuple[dict[str, str], list[str]]:
    values, missing = {}, []
    for arg in route.arguments:
        filler = FILLERS.get((route.name, arg)) or FILLERS.get(arg)
        if filler is None:
            missing.append(arg)
        else:
            values[arg] = filler()
    return values, missing


def _seen(status: int, response: object) -> bool:
    """A 2xx, or a 3xx other than to the login page: this role sees the route."""
    location = getattr(response, "headers", {}).get("Location", "")
    if status in (301, 302) and location.startswith("/accounts/login/"):
        return False
    return 200 <= status < 400


def _allowed_writes(m: Measured) -> set[str]:
    disposition = m.response.get("Content-Disposition", "") if m.response is not None else ""
    if disposition.startswith("attachment"):
        return BOOKKEEPING_TABLES | EXPORT_CHECKPOINT
    return BOOKKEEPING_TABLES


def test_every_page_and_api_read_keeps_the_budget_for_every_role(db) -> None:  # type: ignore[no-untyped-def]
    load_full_demo()
    users = {name: User.objects.get(username=name) for name in ROLES}
    pages, apis = {}, {}
    for name, user in users.items():
        pages[name] = Client()
        pages[name].force_login(user)
        _, raw = create_api_token(actor=user, user=user, name="page budget")
        apis[name] = (Client(), {"HTTP_AUTHORIZATION": f"Bearer {raw}"})

    def get(role: str, url: str, is_api: bool) -> Measured:
        if is_api:
            client, headers = apis[role]
            return measure(client, url, f"{url} as {role}", **headers)
        return measure(pages[role], url, f"{url} as {role}")

    def post_only(url: str | None, is_api: bool) -> bool:
        """405 to GET for the first role that is not refused (a refusal may come first)."""
        for role in ROLES if url else ():
            status = get(role, url, is_api).status  # type: ignore[arg-type]
            if status == 405:
                return True
            if status not in (401, 403, 302):
                return False
        return False

    failures: list[str] = []
    requested = counted = 0
    per_route: list[tuple[str, int, int]] = []
    longest: dict[str, int] = {}  # an API list's most rows seen by any role
    compared: set[str] = set()  # lists compared with their first row alone (per_row)
    for route in routes():
        if route.pattern in EXCLUDED:
            continue
        is_api = route.pattern.startswith("api/")
        values, missing = _fill(route)
        if post_only(route.url(values) if not missing else route.dummy_url(), is_api):
            continue
        if missing:
            failures.append(
                f"/{route.pattern} ({route.name or 'unnamed'}): no filler for URL argument(s) "
                f"{', '.join(missing)}: add one to FILLERS in tests/test_page_budget.py"
            )
            continue
        url = route.url(values) + (QUERIES[route.name]() if route.name in QUERIES else "")
        seen_by = 0
        worst = 0
        statuses: set[int] = set()
        for role in ROLES:
            m = get(role, url, is_api)
            statuses.add(m.status)
            requested += 1
            if m.status >= 500:
                failures.append(f"{m.label}: HTTP {m.status}")
                continue
            if not _seen(m.status, m.response):
                continue
            counted += 1
            seen_by += 1
            n = rows(m)
            if n is not None:
                longest[url] = max(longest.get(url, 0), n)
                if n >= PER_ROW_FROM and url not in compared:
                    compared.add(url)
                    failures.extend(per_row(m, get(role, one_row_url(url), is_api)))
            worst = max(worst, m.count)
            failures.extend(problems(m))
            writes = set(m.writes()) - _allowed_writes(m)
            if writes:
                failures.append(f"{m.label}: a GET wrote to {', '.join(sorted(writes))}")
        per_route.append((url, seen_by, worst))
        if seen_by == 0:
            failures.append(
                f"{url} ({route.name}): no demo role may see it (HTTP "
                f"{', '.join(map(str, sorted(statuses)))}); does its filler name a demo object, "
                "does it need a query string in QUERIES, or should it be excluded?"
            )
    print(f"\n{requested} requests, {counted} counted, over {len(per_route)} routes")
    thin = sorted(url for url, n in longest.items() if n < PER_ROW_FROM)
    print(
        f"{len(longest)} API lists, {len(thin)} with under {PER_ROW_FROM} rows in the demo "
        "(an N+1 there is not seen):"
    )
    for url in thin:
        print(f"  {longest[url]} rows  {url}")
    for url, seen_by, worst in sorted(per_route, key=lambda r: -r[2]):
        print(f"  {worst:3d} queries  {seen_by:2d} roles  {url}")
    assert not failures, f"{len(failures)} problem(s), budget {BUDGET}:\n" + "\n".join(failures)


# --- the guard can fail ---------------------------------------------------------------------
def _n_plus_one(request: HttpRequest) -> HttpResponse:
    """A list that queries each row's related site: the mistake the budget is there to catch."""
    names = [a.site.code for a in _assignments()]
    return JsonResponse({"sites": names})


def _one_query(request: HttpRequest) -> HttpResponse:
    names = [a.site.code for a in _assignments().select_related("site")]
    return JsonResponse({"sites": names})


def _assignments():  # type: ignore[no-untyped-def]
    from vein2vein.core.models import RoleAssignment

    return RoleAssignment.objects.order_by("pk")


def _n_plus_one_list(request: HttpRequest) -> HttpResponse:
    """An API list, paged, with two queries per row: 3 repeats of each on 3 rows."""
    limit = int(request.GET.get("limit", 100))
    rows = _assignments()[:limit]
    return JsonResponse([[a.site.code, a.user.username] for a in rows], safe=False)


def _prefetched_list(request: HttpRequest) -> HttpResponse:
    limit = int(request.GET.get("limit", 100))
    rows = _assignments().select_related("site").prefetch_related("user__role_assignments")
    return JsonResponse([[a.site.code, a.user.username] for a in rows[:limit]], safe=False)


urlpatterns = [
    path("n-plus-one/", _n_plus_one),
    path("one-query/", _one_query),
    path("n-plus-one-list/", _n_plus_one_list),
    path("prefetched-list/", _prefetched_list),
]


@pytest.fixture
def five_assignments(make_user, make_site):  # type: ignore[no-untyped-def]
    for i in range(5):
        make_user("operator", at=make_site(code=f"GUARD-{i}"))


@pytest.mark.urls(__name__)
def test_the_guard_reports_an_n_plus_one(client, five_assignments) -> None:  # type: ignore[no-untyped-def]
    found = problems(measure(client, "/n-plus-one/"))
    assert len(found) == 1
    assert "/n-plus-one/: one query shape 5 times" in found[0]
    assert "core_site" in found[0]


@pytest.mark.urls(__name__)
def test_the_guard_reports_a_request_over_the_budget(client, five_assignments) -> None:  # type: ignore[no-untyped-def]
    assert problems(measure(client, "/n-plus-one/"), budget=5)[0] == (
        "/n-plus-one/: 6 queries (budget 5)"
    )


@pytest.mark.urls(__name__)
def test_the_guard_passes_a_request_within_the_budget(client, five_assignments) -> None:  # type: ignore[no-untyped-def]
    m = measure(client, "/one-query/")
    assert m.status == 200 and m.count == 1
    assert problems(m) == []


@pytest.fixture
def three_assignments(make_user, make_site):  # type: ignore[no-untyped-def]
    for i in range(3):
        make_user("operator", at=make_site(code=f"GUARD-{i}"))


@pytest.mark.urls(__name__)
def test_the_guard_reports_a_per_row_query_on_a_list_too_short_for_repeats(
    client, three_assignments
) -> None:  # type: ignore[no-untyped-def]
    full = measure(client, "/n-plus-one-list/")
    assert rows(full) == 3 and problems(full) == []  # 3 repeats: under MAX_REPEATS
    found = per_row(full, measure(client, one_row_url("/n-plus-one-list/")))
    assert len(found) == 2
    assert all("2 more times for 3 rows than for 1" in line for line in found)
    assert any("core_site" in line for line in found) and any("core_user" in line for line in found)


@pytest.mark.urls(__name__)
def test_the_guard_passes_a_prefetched_list(client, three_assignments) -> None:  # type: ignore[no-untyped-def]
    full = measure(client, "/prefetched-list/")
    assert rows(full) == 3
    assert per_row(full, measure(client, one_row_url("/prefetched-list/"))) == []
