"""The audit trail's hash chain catches tampering made behind the application's back.

Each tamper test builds a real chain through the services, proves it verifies, then changes
the table with raw SQL (as someone with database access would) and checks that
`verify_chain()` and `vein2vein audit verify` name the right event and the right kind.
On PostgreSQL the append-only trigger is disabled inside the test's transaction (rolled
back afterwards); separate tests prove the trigger itself refuses UPDATE and DELETE.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import string
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from vein2vein.core import services
from vein2vein.core.audit import verify_chain
from vein2vein.core.migrations._audit_triggers import SQLITE_DROP
from vein2vein.core.models import AuditEvent, Site, User
from vein2vein.standards.audit_chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical_json,
    event_hash,
)

TABLE = AuditEvent._meta.db_table
TRIGGER = "core_auditevent_append_only"
N_EVENTS = 10


# --- helpers ---------------------------------------------------------------------------------


def _build_chain(actor: User) -> list[AuditEvent]:
    """Ten events through the real site services: 3 creations, 6 corrections, 1 deactivation."""
    sites = [
        services.create_site(
            actor=actor,
            code=f"TMP-{i}",
            name=f"Site {i}",
            kind="manufacturing",
            time_zone="Europe/Madrid",
        )
        for i in range(3)
    ]
    for round_ in range(2):
        for site in sites:
            services.update_site(
                actor=actor,
                site_id=site.pk,
                reason=f"correction {round_}",
                name=f"{site.code} v{round_ + 1}",
            )
    services.deactivate_site(actor=actor, site_id=sites[0].pk, reason="site closed")
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, N_EVENTS + 1))
    return events


@pytest.fixture
def chain(admin_user: User) -> list[AuditEvent]:
    events = _build_chain(admin_user)
    result = verify_chain()
    # The untouched chain verifies; every tamper test starts from here.
    assert result.ok, result.problem
    assert result.count == N_EVENTS
    assert result.head_hash == events[-1].hash
    return events


@pytest.fixture
def tamper(chain: list[AuditEvent]) -> Iterator[None]:
    """Let raw UPDATE/DELETE through, for this test's transaction only (rolled back after)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for statement in SQLITE_DROP:
                cursor.execute(statement)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: their pending checks
            # would block the ALTER TABLE, so run them now, then defer again.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TRIGGER}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    yield


def _sql(query: str, params: list[object] | tuple[object, ...] = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.rowcount


def _command_fails() -> str:
    """Run `audit verify`; it must exit 1. Returns what it wrote to stderr."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as excinfo:
        call_command("audit", "verify", stdout=out, stderr=err)
    assert excinfo.value.code == 1
    assert out.getvalue() == ""
    return err.getvalue()


def _shift_up_from(seq: int) -> None:
    """Make room at `seq`: renumber seq..max one up, highest first (seq is unique)."""
    top = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    assert top is not None
    for s in range(top, seq - 1, -1):
        assert _sql(f"UPDATE {TABLE} SET seq = seq + 1 WHERE seq = %s", [s]) == 1


def _insert_copy(*, seq: int, of_seq: int, reason: str, prev_hash: str, hash_: str) -> None:
    """Insert a row at `seq` copying the content of event `of_seq` with another reason."""
    columns = "occurred_at, actor_id, actor_username, action, record_type, record_id, changes"
    inserted = _sql(
        f"INSERT INTO {TABLE} (seq, {columns}, reason, prev_hash, hash) "
        f"SELECT %s, {columns}, %s, %s, %s FROM {TABLE} WHERE seq = %s",
        [seq, reason, prev_hash, hash_, of_seq],
    )
    assert inserted == 1


# --- the untouched chain ---------------------------------------------------------------------


def test_untouched_chain_verifies_and_command_says_ok(chain):
    out, err = io.StringIO(), io.StringIO()
    call_command("audit", "verify", stdout=out, stderr=err)  # no SystemExit: exit status 0
    assert out.getvalue().startswith(f"OK {N_EVENTS} events")
    assert err.getvalue() == ""
    assert chain[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(chain):
        assert after.prev_hash == before.hash
        assert after.hash == event_hash(after.hashed_content())


def test_empty_chain_verifies(db):
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert out.getvalue().startswith("OK 0 events")
    assert verify_chain().head_hash == GENESIS_HASH


# --- (a) edited ------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 5, N_EVENTS])
def test_edited_reason_is_named(tamper, k):
    assert _sql(f"UPDATE {TABLE} SET reason = %s WHERE seq = %s", ["nothing to see", k]) == 1
    problem = verify_chain().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("edited", k)
    assert verify_chain().count == k - 1
    message = _command_fails()
    assert f"FAIL at event #{k}: edited" in message


@pytest.mark.parametrize("k", [2, 7])
def test_edited_changes_are_named(tamper, chain, k):
    forged = {"name": {"old": "x", "new": "y"}}
    assert chain[k - 1].changes != forged
    assert _sql(f"UPDATE {TABLE} SET changes = %s WHERE seq = %s", [json.dumps(forged), k]) == 1
    assert AuditEvent.objects.get(seq=k).changes == forged
    problem = verify_chain().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("edited", k)
    assert f"FAIL at event #{k}: edited" in _command_fails()


def test_edited_and_rehashed_is_named_at_the_edited_event(tamper, chain):
    """A forger who also recomputes the edited event's hash cannot recompute its seal (the key
    is outside the database): the edited event itself is named, not the next one."""
    k = 4
    event = AuditEvent.objects.get(seq=k)
    event.reason = "rewritten"
    new_hash = event_hash(event.hashed_content())
    assert new_hash != chain[k - 1].hash
    _sql(f"UPDATE {TABLE} SET reason = %s, hash = %s WHERE seq = %s", ["rewritten", new_hash, k])
    result = verify_chain()
    problem = result.problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("edited", k), problem
    assert "seal" in problem.detail
    assert result.count == k - 1
    assert f"FAIL at event #{k}: edited" in _command_fails()


def test_edited_actor_username_is_named(tamper):
    assert _sql(f"UPDATE {TABLE} SET actor_username = %s WHERE seq = %s", ["mallory", 4]) == 1
    problem = verify_chain().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("edited", 4)
    assert "FAIL at event #4: edited" in _command_fails()


# --- (b) deleted -----------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 4, N_EVENTS - 1])
def test_deleted_event_is_named(tamper, k):
    assert _sql(f"DELETE FROM {TABLE} WHERE seq = %s", [k]) == 1
    result = verify_chain()
    problem = result.problem
    assert problem is not None
    # The walk stops at the event after the gap, and names the one that is gone.
    assert (problem.kind, problem.seq) == ("deleted", k + 1)
    assert f"#{k}" in problem.detail and "gone" in problem.detail
    assert result.count == k - 1
    message = _command_fails()
    assert f"FAIL at event #{k + 1}: deleted" in message
    assert f"(#{k}) is gone" in message


def test_deleted_and_renumbered_is_still_deleted(tamper):
    """Closing the gap in the numbering does not hide a deletion: the links still break."""
    k = 6
    assert _sql(f"DELETE FROM {TABLE} WHERE seq = %s", [k]) == 1
    for s in range(k + 1, N_EVENTS + 1):
        assert _sql(f"UPDATE {TABLE} SET seq = seq - 1 WHERE seq = %s", [s]) == 1
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, N_EVENTS))
    problem = verify_chain().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("deleted", k)
    assert f"FAIL at event #{k}: deleted" in _command_fails()


def test_renumbered_event_with_intact_links_is_an_edit_of_its_number(tamper):
    """Only the numbers moved (links and content intact): reported as edited, not deleted."""
    k = 4
    for s in range(N_EVENTS, k - 1, -1):
        assert _sql(f"UPDATE {TABLE} SET seq = seq + 1 WHERE seq = %s", [s]) == 1
    problem = verify_chain().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("edited", k + 1)
    assert "renumbered" in problem.detail
    assert f"FAIL at event #{k + 1}: edited" in _command_fails()


# --- (c) reordered ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 5, N_EVENTS - 1])
def test_swapped_adjacent_events_are_reordered(tamper, chain, k):
    _sql(f"UPDATE {TABLE} SET seq = -1 WHERE seq = %s", [k])
    _sql(f"UPDATE {TABLE} SET seq = %s WHERE seq = %s", [k, k + 1])
    _sql(f"UPDATE {TABLE} SET seq = %s WHERE seq = -1", [k + 1])
    assert AuditEvent.objects.get(seq=k).hash == chain[k].hash  # really swapped
    problem = verify_chain().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("reordered", k)
    assert f"#{k + 1}" in problem.detail
    assert f"FAIL at event #{k}: reordered" in _command_fails()


# --- (d) inserted ----------------------------------------------------------------------------


@pytest.mark.parametrize("j", [1, 4, N_EVENTS])
def test_inserted_event_with_made_up_hash_is_named(tamper, chain, j):
    prev_hash = chain[j - 2].hash if j > 1 else GENESIS_HASH
    _shift_up_from(j)
    _insert_copy(seq=j, of_seq=j + 1, reason="backdated entry", prev_hash=prev_hash, hash_="f" * 64)
    assert AuditEvent.objects.count() == N_EVENTS + 1
    problem = verify_chain().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("inserted", j)
    assert f"FAIL at event #{j}: inserted" in _command_fails()


def test_inserted_event_with_made_up_prev_hash_is_named(tamper):
    j = 6
    _shift_up_from(j)
    _insert_copy(seq=j, of_seq=j + 1, reason="backdated entry", prev_hash="e" * 64, hash_="f" * 64)
    problem = verify_chain().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("inserted", j)
    assert f"FAIL at event #{j}: inserted" in _command_fails()


@pytest.mark.parametrize("j", [1, 2, 5, N_EVENTS])
def test_inserted_event_with_correct_hash_is_named(tamper, chain, j):
    """The forger computes a valid hash linked to the event before: the *next* link breaks."""
    prev_hash = chain[j - 2].hash if j > 1 else GENESIS_HASH
    forged = AuditEvent.objects.get(seq=j)  # its content, under another reason
    forged.reason = "backdated entry"
    forged.prev_hash = prev_hash
    forged_hash = event_hash(forged.hashed_content())
    _shift_up_from(j)
    _insert_copy(
        seq=j, of_seq=j + 1, reason="backdated entry", prev_hash=prev_hash, hash_=forged_hash
    )
    row = AuditEvent.objects.get(seq=j)
    assert row.hash == event_hash(row.hashed_content())  # the forged row is self-consistent
    result = verify_chain()
    problem = result.problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("inserted", j)
    assert result.count == j - 1  # the forged event is not counted as verified
    assert result.head_hash == prev_hash
    message = _command_fails()
    assert f"FAIL at event #{j}: inserted" in message
    assert f"({j - 1} events verified before it)" in message


def test_only_the_first_problem_is_reported(tamper):
    _sql(f"UPDATE {TABLE} SET reason = %s WHERE seq = %s", ["later edit", 8])
    _sql(f"UPDATE {TABLE} SET reason = %s WHERE seq = %s", ["earlier edit", 3])
    problem = verify_chain().problem
    assert problem is not None
    assert (problem.kind, problem.seq) == ("edited", 3)


# --- the append-only triggers (both databases) -----------------------------------------------


@pytest.fixture
def postgres_only(db):  # type: ignore[no-untyped-def]
    """Once PostgreSQL only; since migration 0005 SQLite's triggers refuse the same."""


def test_trigger_refuses_update(postgres_only, chain):
    with pytest.raises(DatabaseError, match="append-only: UPDATE refused"), transaction.atomic():
        _sql(f"UPDATE {TABLE} SET reason = %s WHERE seq = %s", ["rewritten", 3])
    with pytest.raises(DatabaseError, match="append-only: UPDATE refused"), transaction.atomic():
        AuditEvent.objects.filter(seq=4).update(reason="through the ORM")
    assert AuditEvent.objects.get(seq=3).reason == chain[2].reason
    assert AuditEvent.objects.get(seq=4).reason == chain[3].reason
    assert verify_chain().ok


def test_trigger_refuses_delete(postgres_only, chain):
    with pytest.raises(DatabaseError, match="append-only: DELETE refused"), transaction.atomic():
        _sql(f"DELETE FROM {TABLE} WHERE seq = %s", [5])
    with pytest.raises(DatabaseError, match="append-only: DELETE refused"), transaction.atomic():
        AuditEvent.objects.filter(seq__gte=8).delete()
    assert AuditEvent.objects.count() == N_EVENTS
    result = verify_chain()
    assert result.ok and result.count == N_EVENTS


def test_trigger_still_allows_appends(postgres_only, chain, admin_user):
    site = Site.objects.get(code="TMP-1")
    services.update_site(actor=admin_user, site_id=site.pk, reason="after", name="appended")
    result = verify_chain()
    assert result.ok and result.count == N_EVENTS + 1


# --- properties of the hash ------------------------------------------------------------------

_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=12,
)
_hex64 = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
_content = st.fixed_dictionaries(
    {
        "occurred_at": st.datetimes(timezones=st.just(dt.UTC)).map(
            lambda d: d.isoformat(timespec="microseconds")
        ),
        "actor_id": st.none() | st.integers(1, 2**31),
        "actor_username": st.text(alphabet=string.ascii_letters + string.digits, max_size=20),
        "action": _text,
        "record_type": _text,
        "record_id": _text,
        "changes": st.dictionaries(_text, _json, max_size=4),
        "reason": _text,
        "prev_hash": _hex64,
    }
)


@given(content=_content, field=st.sampled_from(HASHED_FIELDS), other=_json | _hex64)
def test_event_hash_changes_when_any_hashed_field_changes(content, field, other):
    if content[field] == other or json.dumps(content[field]) == json.dumps(other):
        other = [content[field], "changed"]
    changed = {**content, field: other}
    assert event_hash(changed) != event_hash(content)


@given(content=_content)
def test_event_hash_is_deterministic_and_ignores_other_keys(content):
    digest = event_hash(content)
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")
    assert event_hash(dict(reversed(list(content.items())))) == digest
    # seq is an index, not content: renumbering alone does not change the hash.
    assert event_hash({**content, "seq": 7, "hash": "x"}) == digest


@given(content=_content, field=st.sampled_from(HASHED_FIELDS))
def test_event_hash_needs_every_hashed_field(content, field):
    del content[field]
    with pytest.raises(KeyError, match=field):
        event_hash(content)


@given(value=st.dictionaries(_text, _json, max_size=8), data=st.data())
def test_canonical_json_is_key_order_independent(value, data):
    order = data.draw(st.permutations(list(value)))
    shuffled = {k: value[k] for k in order}
    assert canonical_json(shuffled) == canonical_json(value)
    assert json.loads(canonical_json(value).decode("utf-8")) == value
