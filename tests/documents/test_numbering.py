"""Creating documents: numbers per kind prefix, explicit numbers, roles, bad input."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from tests.documents.conftest import unchanged
from vein2vein.core.choices import Role
from vein2vein.core.errors import PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent
from vein2vein.documents import services
from vein2vein.documents.models import Document

AUTHORS = (Role.SUPERVISOR, Role.QC_ANALYST, Role.QA_REVIEWER, Role.QA_APPROVER)


def test_numbers_are_allocated_per_prefix(author):
    sop1 = services.create_document(actor=author, kind="sop", title="One")
    sop2 = services.create_document(actor=author, kind="sop", title="Two")
    wi = services.create_document(actor=author, kind="work_instruction", title="WI")
    frm = services.create_document(actor=author, kind="form", title="Form")
    spec = services.create_document(actor=author, kind="specification", title="Spec")
    mbr = services.create_document(actor=author, kind="master_batch_record", title="MBR")
    assert [d.number for d in (sop1, sop2, wi, frm, spec, mbr)] == [
        "SOP-0001",
        "SOP-0002",
        "WI-0001",
        "FRM-0001",
        "SPEC-0001",
        "MBR-0001",
    ]
    assert sop1.owner == author and sop1.review_period_months == 24
    event = AuditEvent.objects.get(action="documents.document.created", record_id=str(sop1.pk))
    assert event.changes["number"] == {"old": None, "new": "SOP-0001"}
    assert event.actor == author


def test_explicit_number_is_normalised_and_allocation_skips_it(author):
    explicit = services.create_document(actor=author, kind="sop", title="X", number=" sop-0002 ")
    assert explicit.number == "SOP-0002"
    first = services.create_document(actor=author, kind="sop", title="A")
    second = services.create_document(actor=author, kind="sop", title="B")
    assert (first.number, second.number) == ("SOP-0001", "SOP-0003")


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("SOP42", "must look like SOP-0042"),
        ("SOP-42", "must look like SOP-0042"),
        ("SOP-0042x", "must look like"),
        ("WI-0042", "must start with SOP-"),
        ("SOP-1234567", "must look like"),
        (42, "must be text"),
    ],
)
def test_bad_explicit_number_names_the_field(author, number, message):
    with unchanged(), pytest.raises(ValidationFailed, match=message) as exc:
        services.create_document(actor=author, kind="sop", title="X", number=number)
    assert exc.value.field == "number"


def test_duplicate_number_is_refused(author):
    services.create_document(actor=author, kind="sop", title="X", number="SOP-0042")
    with unchanged(), pytest.raises(ValidationFailed, match="already used") as exc:
        services.create_document(actor=author, kind="sop", title="Y", number="SOP-0042")
    assert exc.value.field == "number"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "memo", "kind must be one of"),
        ("title", "", "title is required"),
        ("title", "x" * 201, "at most 200"),
        ("title", "bad\x00", "control characters"),
        ("review_period_months", 0, "between 1 and 120"),
        ("review_period_months", 121, "between 1 and 120"),
        ("review_period_months", "24", "whole number"),
        ("owner", 99999999, "is not a user"),
        ("owner", "someone", "must be a user"),
    ],
)
def test_bad_input_names_the_field(author, field, value, message):
    args = {"kind": "sop", "title": "Gowning", field: value}
    with unchanged(), pytest.raises(ValidationFailed, match=message) as exc:
        services.create_document(actor=author, **args)
    assert exc.value.field == field


def test_owner_must_hold_an_author_role(author, operator):
    with unchanged(), pytest.raises(ValidationFailed, match="author role") as exc:
        services.create_document(actor=author, kind="sop", title="X", owner=operator)
    assert exc.value.field == "owner"


@pytest.mark.parametrize("role", list(Role))
def test_who_may_author(make_user, role):
    actor = make_user(role)
    if role in AUTHORS:
        assert services.create_document(actor=actor, kind="sop", title="X").number == "SOP-0001"
    else:
        with unchanged(), pytest.raises(PermissionRefused, match=r"documents\.document\.author"):
            services.create_document(actor=actor, kind="sop", title="X")


@pytest.mark.django_db(transaction=True)
def test_concurrent_authors_never_get_the_same_number(author):
    if connection.vendor != "postgresql":
        pytest.skip("row locks across connections: PostgreSQL")
    numbers: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        try:
            barrier.wait()
            numbers.append(services.create_document(actor=author, kind="sop", title="T").number)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(numbers) == ["SOP-0001", "SOP-0002", "SOP-0003", "SOP-0004"]
    assert Document.objects.count() == 4
