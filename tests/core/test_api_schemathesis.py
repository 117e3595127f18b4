"""Every API route under schemathesis: whatever the input, never a server error (5xx).

The OpenAPI schema comes from the app itself; each operation is one test, fed positive and
negative cases (DESIGN.md rule 7: bad input is a 4xx naming the field, a 5xx is a bug). Requests
go in-process through Django's test handler, so they share the test's database, and they carry
a personal API token, as a machine client would. Two callers: an administrator (who may write
sites, users and roles) and a QA reviewer (who may sign).
"""

from __future__ import annotations

import os
import traceback
from typing import Any

import pytest
import schemathesis
from django.core.signals import got_request_exception
from django.test.client import ClientHandler
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from tests.conftest import PASSWORD
from vein2vein.api import api
from vein2vein.core import services
from vein2vein.core.choices import Role, SignatureMeaning, SiteKind

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())

# Values the services accept, and ids of rows that exist (filled per test): parameters and
# bodies sometimes carry them, so the fuzzing gets past "not found" and "not a valid role" and
# reaches the services' deeper checks (permission, state, four eyes, password).
VALID: dict[str, list[Any]] = {
    "kind": SiteKind.values,
    "role": Role.values,
    "meaning": SignatureMeaning.values,
    "time_zone": ["Europe/Madrid", "America/New_York"],
    "record_type": ["core.site", "core.user"],
    "password": [PASSWORD],
    "reason": ["Corrected after review"],
    "name": ["Fuzz name"],
    "full_name": ["Fuzz Person"],
    "username": ["fuzz.new"],
    "email": ["fuzz@example.org"],
    "code": ["FUZZ-NEW"],
    "fin": ["", "A9999"],
    "address": ["", "1 Main Street"],
}
KNOWN: dict[str, list[Any]] = {}
# Values that the schema allows and a SQL backend may not: NUL in PostgreSQL text, integers past
# 64 bits, time-zone offsets past PostgreSQL's +-15:59, instants past year 1 or 9999 in UTC.
EDGE_TEXT = ["\x00", "a\x00b"]
EDGE_INT = [2**63, -(2**63) - 1]
EDGE_TIME = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2000-01-01T00:00:00+16:00"]
TIME_KEYS = {"since", "until"}


def _edges(key: str, value: Any) -> list[Any]:
    if key in TIME_KEYS:
        return EDGE_TIME
    if isinstance(value, str):
        return EDGE_TEXT
    if isinstance(value, int) and not isinstance(value, bool):
        return EDGE_INT
    return []


def _aim(values: Any) -> Any:
    """A generated dict as it is; or with each key kept or swapped for an accepted or an edge
    value; or with every key that has accepted values set to one (to reach the deep paths)."""
    if not isinstance(values, dict) or not values:
        return st.just(values)
    mixed, accepted = {}, {}
    for key, value in values.items():
        good = [*KNOWN.get(key, VALID.get(key, []))]
        others = [v for v in [*good, *_edges(key, value)] if v != value]
        keep = st.just(value)
        mixed[key] = st.one_of(keep, st.sampled_from(others)) if others else keep
        accepted[key] = st.sampled_from(good) if good else keep
    return st.one_of(st.just(values), st.fixed_dictionaries(mixed), st.fixed_dictionaries(accepted))


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: Any) -> Any:
    return _aim(path_parameters)


@schema.hook
def flatmap_query(context: Any, query: Any) -> Any:
    return _aim(query)


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    return _aim(body)


class DjangoApp:
    """A WSGI app over Django's test handler: the request runs on the test's own database
    connection, and a server-side exception is kept so a failure shows its traceback."""

    def __init__(self) -> None:
        self.handler = ClientHandler(enforce_csrf_checks=True)
        self.tracebacks: list[str] = []

    def _record(self, **kwargs: Any) -> None:
        self.tracebacks.append(traceback.format_exc())

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        got_request_exception.connect(self._record)
        try:
            response = self.handler(environ)
        finally:
            got_request_exception.disconnect(self._record)
        headers = [*response.items()]
        headers += [("Set-Cookie", c.output(header="")) for c in response.cookies.values()]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        return [response.content]


@pytest.fixture(params=[Role.ADMIN, Role.QA_REVIEWER])
def caller(request, db, site, make_user, admin_user):  # type: ignore[no-untyped-def]
    """Rows to aim at, made through the services, and the caller's bearer token. In the test's
    transaction (rolled back), not a flushed transactional database: the flush of every table
    after each of some 400 operations cost minutes of the suite on PostgreSQL."""
    other = services.create_site(
        actor=admin_user,
        code="QC-FUZZ",
        name="Fuzz QC lab",
        kind="qc_lab",
        time_zone="America/New_York",
    )
    services.update_site(actor=admin_user, site_id=site.pk, reason="fuzz set-up", address="Here")
    person = services.create_user(
        actor=admin_user, username="fuzzed", full_name="Fuzz Person", password="Fuzz-pass-1234!"
    )
    assignment = services.grant_role(
        actor=admin_user, user_id=person.pk, site_id=site.pk, role=Role.OPERATOR
    )
    user = admin_user if request.param == Role.ADMIN else make_user(request.param, username="qa1")
    token, raw = services.create_api_token(actor=None, user=user, name="fuzz")
    KNOWN.clear()
    KNOWN.update(
        site_id=[site.pk, other.pk],
        record_id=[str(site.pk), str(other.pk), str(person.pk)],
        user_id=[person.pk, user.pk],
        assignment_id=[assignment.pk],
        prefix=[token.prefix],
    )
    yield {"Authorization": f"Bearer {raw}"}
    KNOWN.clear()


@pytest.fixture
def app() -> DjangoApp:
    return DjangoApp()


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("VEIN2VEIN_FUZZ_EXAMPLES", "25")),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_answers_5xx(case, caller, app, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    app.tracebacks.clear()
    # What a service schedules on commit runs, as it would after a real commit.
    with django_capture_on_commit_callbacks(execute=True):
        response = case.call(app=app, headers=caller)
    if response.status_code >= 500:
        detail = "\n".join(app.tracebacks) or "(no traceback captured)"
        raise AssertionError(
            f"{case.method} {case.formatted_path} answered {response.status_code}\n"
            f"reproduce: {case.as_curl_command(headers=caller)}\n{detail}"
        )
    case.validate_response(response, checks=[not_a_server_error], headers=caller)
