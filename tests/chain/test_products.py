"""Products as ordered: set up by supervisors and QA approvers, their fresh-material limits
checked, corrected with a reason; an inactive product cannot be ordered."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chain.conftest import World, refused, refused_roles
from vein2vein.chain import services
from vein2vein.chain.models import TherapyProduct
from vein2vein.core.choices import Role
from vein2vein.core.errors import Conflict, NotFound, PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent, User

pytestmark = pytest.mark.django_db

MANAGERS = {Role.SUPERVISOR, Role.QA_APPROVER}


def _create(actor: User, **over: Any) -> TherapyProduct:
    values: dict[str, Any] = {
        "code": "bcma-cart",
        "name": "Autologous anti-BCMA CAR-T",
        "max_hours_to_manufacture": 72,
        "fresh_min_c": "2",
        "fresh_max_c": "25",
        "isbt_description_code": "s1235",
    }
    values.update(over)
    return services.create_product(actor=actor, **values)


@pytest.mark.parametrize("role", sorted(MANAGERS))
def test_supervisors_and_qa_approvers_create_products(everyone, role: str) -> None:  # type: ignore[no-untyped-def]
    p = _create(everyone[role])
    assert (p.code, p.isbt_description_code, p.max_hours_to_manufacture) == (
        "BCMA-CART",
        "S1235",
        72,
    )
    assert AuditEvent.objects.filter(action="chain.product.created", record_id=str(p.pk)).exists()


def test_nobody_else_creates_or_updates_products(world: World, everyone) -> None:  # type: ignore[no-untyped-def]
    message = "chain.product.manage needs one of these roles: qa_approver, supervisor"
    for role in refused_roles(MANAGERS):
        with refused(PermissionRefused, field=None, message=message):
            _create(everyone[role])
        with refused(PermissionRefused, field=None, message=message):
            services.update_product(
                actor=everyone[role], product_id=world.product.pk, reason="x", name="Y"
            )


BAD_FIELDS: list[tuple[dict[str, Any], str, str]] = [
    ({"code": "CD 19"}, "code", "capital letters, digits and '-'"),
    ({"code": ""}, "code", "code is required"),
    ({"name": ""}, "name", "name is required"),
    ({"max_hours_to_manufacture": 0}, "max_hours_to_manufacture", "from 1 to 720, not 0"),
    ({"max_hours_to_manufacture": 721}, "max_hours_to_manufacture", "from 1 to 720"),
    ({"max_hours_to_manufacture": "1.5"}, "max_hours_to_manufacture", "at most 0 decimals"),
    ({"fresh_min_c": "8", "fresh_max_c": "8"}, "fresh_min_c", "must be below fresh_max_c"),
    (
        {"fresh_min_c": "10", "fresh_max_c": "2"},
        "fresh_min_c",
        "(10.0) must be below fresh_max_c (2.0)",
    ),
    ({"fresh_max_c": "41"}, "fresh_max_c", "from -196 to 40"),
    ({"fresh_min_c": "-200"}, "fresh_min_c", "from -196 to 40"),
    ({"isbt_description_code": "X1"}, "isbt_description_code", "isbt_description_code: "),
    ({"autologous": "yes"}, "autologous", "autologous must be true or false"),
]


def test_every_bad_field_is_named(world: World) -> None:
    for over, field, message in BAD_FIELDS:
        with refused(ValidationFailed, field=field, message=message):
            _create(world.supervisor, **over)


def test_a_product_code_is_unique(world: World) -> None:
    with refused(Conflict, field="code", message="product CD19-CART already exists"):
        _create(world.supervisor, code="cd19-cart")


def test_an_update_needs_a_reason_and_a_change(world: World) -> None:
    pid = world.product.pk
    with refused(ValidationFailed, field="reason", message="reason is required"):
        services.update_product(actor=world.supervisor, product_id=pid, reason="", name="N")
    with refused(ValidationFailed, field=None, message="nothing to change"):
        services.update_product(
            actor=world.supervisor, product_id=pid, reason="x", max_hours_to_manufacture=48
        )
    with refused(ValidationFailed, field="code", message="code cannot be changed"):
        services.update_product(actor=world.supervisor, product_id=pid, reason="x", code="NEW")
    with refused(ValidationFailed, field="fresh_min_c", message="must be below fresh_max_c"):
        services.update_product(actor=world.supervisor, product_id=pid, reason="x", fresh_min_c=9)
    with refused(NotFound, field="product_id", message="product 999999 does not exist"):
        services.update_product(actor=world.supervisor, product_id=999_999, reason="x", name="N")


def test_an_update_keeps_the_old_values_in_the_audit_trail(world: World) -> None:
    services.update_product(
        actor=world.qa_approver,
        product_id=world.product.pk,
        reason="Stability study extended",
        max_hours_to_manufacture=72,
    )
    world.product.refresh_from_db()
    assert world.product.max_hours_to_manufacture == 72
    event = AuditEvent.objects.get(action="chain.product.updated")
    assert event.changes == {"max_hours_to_manufacture": {"old": 48, "new": 72}}
    assert event.reason == "Stability study extended"


def test_an_inactive_product_cannot_be_ordered(world: World) -> None:
    services.update_product(
        actor=world.supervisor, product_id=world.product.pk, reason="Withdrawn", is_active=False
    )
    with refused(ValidationFailed, field="product_id", message="CD19-CART is not active"):
        services.create_order(
            actor=world.clinician,
            patient_id=world.patient.pk,
            product_id=world.product.pk,
            treating_physician="Dr. Rivera",
            requested_collection_date=world.today(world.clinic),
            collection_site_id=world.apheresis.pk,
            manufacturing_site_id=world.mfg.pk,
        )
