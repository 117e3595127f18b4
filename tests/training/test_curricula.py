"""Curricula and qualification types: supervisors and QA maintain them through services with
audit; everyone else is refused and nothing changes."""

from __future__ import annotations

import pytest

from tests.core.helpers import nothing_written
from tests.training.conftest import TRAINING_MODELS
from tests.training.factories import DocumentFactory
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.errors import Conflict, NotFound, PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent
from vein2vein.training import selectors, services
from vein2vein.training.models import CurriculumItem

MANAGERS = (Role.SUPERVISOR, Role.QA_REVIEWER, Role.QA_APPROVER)
OTHERS = [r for r in Role if r not in MANAGERS]


@pytest.mark.parametrize("role", MANAGERS)
def test_supervisors_and_qa_build_curricula(make_user, role, sop4, aps):
    actor = make_user(role, username=f"m-{role}")
    c = services.create_curriculum(actor=actor, role="operator", name="Operator", description="All")
    item, _ = services.add_curriculum_document(
        actor=actor, curriculum_id=c.pk, document_number="sop-0004", trainer_led=True, due_days=10
    )
    qitem = services.add_curriculum_qualification(
        actor=actor, curriculum_id=c.pk, qualification_code="aps"
    )
    assert (item.document, item.trainer_led, item.due_days) == (sop4, True, 10)
    assert qitem.qualification_type == aps
    actions = list(
        AuditEvent.objects.filter(record_type="training.curriculum", record_id=str(c.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == [
        "training.curriculum.created",
        "training.curriculum.document_added",
        "training.curriculum.qualification_added",
    ]
    assert verify_chain().ok


@pytest.mark.parametrize("role", OTHERS)
def test_other_roles_are_refused(make_user, role, supervisor, sop4, aps):
    actor = make_user(role, username=f"o-{role}")
    c = services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused, match="curriculum"):
        services.create_curriculum(actor=actor, role="verifier", name="Verifier")
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused):
        services.add_curriculum_document(
            actor=actor, curriculum_id=c.pk, document_number="SOP-0004"
        )
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused):
        services.add_curriculum_qualification(
            actor=actor, curriculum_id=c.pk, qualification_code="APS"
        )
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused):
        services.create_qualification_type(
            actor=actor, code="X-1", name="X", kind="other", validity_months=1
        )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"role": "admin"}, "role", "no curriculum"),
        ({"role": "inspector"}, "role", "no curriculum"),
        ({"role": "janitor"}, "role", "role must be one of"),
        ({"name": ""}, "name", "name is required"),
        ({"name": "x" * 201}, "name", "at most 200"),
        ({"description": "a\x00b"}, "description", "control characters"),
    ],
)
def test_curriculum_bad_input(supervisor, change, field, message):
    args = {"actor": supervisor, "role": "operator", "name": "Operator", **change}
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed, match=message) as exc:
        services.create_curriculum(**args)
    assert exc.value.field == field


def test_one_curriculum_per_role_and_scope(supervisor, site):
    services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed, match="already") as exc:
        services.create_curriculum(actor=supervisor, role="operator", name="Again")
    assert exc.value.field == "role"
    # A site's own curriculum for the same role is another scope.
    c = services.create_curriculum(
        actor=supervisor, role="operator", name="Operator MFG-TEST", site_id=site.pk
    )
    assert c.scope == "Operator at MFG-TEST"


def test_site_curriculum_needs_the_role_at_that_site(make_user, make_site, supervisor):
    other = make_site(code="OTHER")
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused, match="at OTHER"):
        services.create_curriculum(actor=supervisor, role="operator", name="X", site_id=other.pk)
    with nothing_written(*TRAINING_MODELS), pytest.raises(NotFound) as exc:
        services.create_curriculum(actor=supervisor, role="operator", name="X", site_id=999)
    assert exc.value.field == "site_id"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"document_number": "SOP-9999"}, "document_number", "does not exist"),
        ({"document_number": ""}, "document_number", "required"),
        ({"due_days": 0}, "due_days", "between 1 and 365"),
        ({"due_days": "soon"}, "due_days", "whole number"),
        ({"trainer_led": "yes"}, "trainer_led", "true or false"),
        ({"curriculum_id": 999}, "curriculum_id", "does not exist"),
    ],
)
def test_add_document_bad_input(supervisor, sop4, change, field, message):
    c = services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    args = {"actor": supervisor, "curriculum_id": c.pk, "document_number": "SOP-0004", **change}
    with (
        nothing_written(*TRAINING_MODELS),
        pytest.raises((ValidationFailed, NotFound), match=message) as exc,
    ):
        services.add_curriculum_document(**args)
    assert exc.value.field == field


def test_items_are_added_once_and_removed_with_a_reason(supervisor, sop4, aps):
    c = services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    item, _ = services.add_curriculum_document(
        actor=supervisor, curriculum_id=c.pk, document_number="SOP-0004"
    )
    qitem = services.add_curriculum_qualification(
        actor=supervisor, curriculum_id=c.pk, qualification_code="APS"
    )
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed, match="already"):
        services.add_curriculum_document(
            actor=supervisor, curriculum_id=c.pk, document_number="SOP-0004"
        )
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed, match="already"):
        services.add_curriculum_qualification(
            actor=supervisor, curriculum_id=c.pk, qualification_code="APS"
        )
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed) as exc:
        services.remove_curriculum_item(actor=supervisor, item_id=item.pk, reason="")
    assert exc.value.field == "reason"
    removed = services.remove_curriculum_item(
        actor=supervisor, item_id=item.pk, reason="Replaced by WI-0001"
    )
    assert removed.removed_by == supervisor and not removed.is_active
    assert CurriculumItem.objects.filter(pk=item.pk).exists(), "never deleted"
    assert [i.pk for i in selectors.curriculum_items(c)] == [qitem.pk]
    assert len(selectors.curriculum_items(c, include_removed=True)) == 2
    with nothing_written(*TRAINING_MODELS), pytest.raises(Conflict, match="already removed"):
        services.remove_curriculum_item(actor=supervisor, item_id=item.pk, reason="again")
    with nothing_written(*TRAINING_MODELS), pytest.raises(NotFound):
        services.remove_curriculum_item(actor=supervisor, item_id=999, reason="x")
    # and it may come back
    services.add_curriculum_document(
        actor=supervisor, curriculum_id=c.pk, document_number="SOP-0004"
    )
    event = AuditEvent.objects.get(action="training.curriculum.item_removed")
    assert event.reason == "Replaced by WI-0001"


def test_unknown_or_inactive_qualification_is_refused(supervisor, aps):
    c = services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed) as exc:
        services.add_curriculum_qualification(
            actor=supervisor, curriculum_id=c.pk, qualification_code="NOPE"
        )
    assert exc.value.field == "qualification_code"


def test_curriculum_for_user_follows_their_active_roles(
    operator, make_user, supervisor, site, sop4, aps
):
    everywhere = services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    here = services.create_curriculum(
        actor=supervisor, role="operator", name="Operator MFG-TEST", site_id=site.pk
    )
    services.add_curriculum_document(
        actor=supervisor, curriculum_id=everywhere.pk, document_number="SOP-0004"
    )
    services.add_curriculum_qualification(
        actor=supervisor, curriculum_id=here.pk, qualification_code="APS"
    )
    assert set(selectors.curricula_for(operator)) == {everywhere, here}
    assert [
        getattr(r, "number", getattr(r, "code", None))
        for r in selectors.curriculum_requirements(operator)
    ] == [
        "SOP-0004",
        "APS",
    ]
    doc = DocumentFactory(number="SOP-0042")
    assert doc not in selectors.curriculum_requirements(operator)
    assert selectors.curricula_for(supervisor).count() == 0


def test_update_curriculum(supervisor, operator):
    c = services.create_curriculum(actor=supervisor, role="operator", name="Operator")
    services.update_curriculum(
        actor=supervisor, curriculum_id=c.pk, reason="Clearer", name="Operators (all sites)"
    )
    c.refresh_from_db()
    assert c.name == "Operators (all sites)"
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed, match="nothing"):
        services.update_curriculum(
            actor=supervisor, curriculum_id=c.pk, reason="x", name="Operators (all sites)"
        )
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed) as exc:
        services.update_curriculum(actor=supervisor, curriculum_id=c.pk, reason="x", role="qc")
    assert exc.value.field == "role"
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused):
        services.update_curriculum(actor=operator, curriculum_id=c.pk, reason="x", name="Y")


# --- qualification types --------------------------------------------------------------------
def test_qualification_type_created_and_corrected(supervisor):
    t = services.create_qualification_type(
        actor=supervisor,
        code="nc-200",
        name="NucleoCounter NC-200 operation",
        kind="instrument",
        subject="NucleoCounter NC-200",
        validity_months=24,
    )
    assert (t.code, t.validity_months) == ("NC-200", 24)
    services.update_qualification_type(
        actor=supervisor, code="NC-200", reason="Vendor guidance", validity_months=12
    )
    t.refresh_from_db()
    assert t.validity_months == 12
    event = AuditEvent.objects.get(action="training.qualification_type.updated")
    assert event.changes == {"validity_months": {"old": 24, "new": 12}}
    assert event.reason == "Vendor guidance"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"code": "a b"}, "code", "capital letters"),
        ({"code": ""}, "code", "required"),
        ({"name": ""}, "name", "required"),
        ({"kind": "magic"}, "kind", "kind must be one of"),
        ({"validity_months": 0}, "validity_months", "between 1 and 120"),
        ({"validity_months": 121}, "validity_months", "between 1 and 120"),
        ({"validity_months": True}, "validity_months", "whole number"),
        ({"kind": "instrument", "subject": ""}, "subject", "subject is required"),
    ],
)
def test_qualification_type_bad_input(supervisor, change, field, message):
    args = {
        "actor": supervisor,
        "code": "APS",
        "name": "Aseptic process simulation",
        "kind": "aseptic",
        "validity_months": 6,
        **change,
    }
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed, match=message) as exc:
        services.create_qualification_type(**args)
    assert exc.value.field == field


def test_qualification_type_refusals(supervisor, operator, aps):
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed, match="already used"):
        services.create_qualification_type(
            actor=supervisor, code="APS", name="Dup", kind="aseptic", validity_months=6
        )
    with nothing_written(*TRAINING_MODELS), pytest.raises(NotFound):
        services.update_qualification_type(actor=supervisor, code="NOPE", reason="x", name="Y")
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed) as exc:
        services.update_qualification_type(actor=supervisor, code="APS", reason="x", code_new="Y")
    assert exc.value.field == "code_new"
    with nothing_written(*TRAINING_MODELS), pytest.raises(ValidationFailed, match="subject"):
        services.update_qualification_type(
            actor=supervisor, code="APS", reason="x", kind="process_step"
        )
    with nothing_written(*TRAINING_MODELS), pytest.raises(PermissionRefused):
        services.update_qualification_type(actor=operator, code="APS", reason="x", name="Y")
