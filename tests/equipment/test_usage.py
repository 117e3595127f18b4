"""The usage log: start (through the interlock, recorded when refused) and end."""

from __future__ import annotations

import pytest

from tests.core.helpers import nothing_written
from tests.equipment.factories import EQUIPMENT_MODELS, ago, in_service, use
from vein2vein.core.errors import Conflict, InterlockBlocked, PermissionRefused, ValidationFailed
from vein2vein.core.models import AuditEvent
from vein2vein.equipment import services
from vein2vein.equipment.models import Usage


@pytest.fixture
def unit(site, supervisor, qa_approver, protocol):  # type: ignore[no-untyped-def]
    return in_service(site, supervisor, qa_approver, protocol)[0]


def _start(actor, unit, **kw):  # type: ignore[no-untyped-def]
    values = {
        "equipment_id": unit.equipment_id,
        "batch_ref": ("manufacturing.batch", "12"),
        "batch_label": "B-2026-0012",
        "step": "Cell wash",
    }
    values.update(kw)
    return services.start_usage(actor=actor, **values)


def test_start_and_end_are_logged(unit, operator):
    usage = _start(operator, unit)
    assert usage.is_open and usage.batch_ref == ("manufacturing.batch", "12")
    usage = services.end_usage(actor=operator, usage_id=usage.pk)
    assert usage.ended_at >= usage.started_at and usage.ended_by == operator
    actions = list(
        AuditEvent.objects.filter(record_type="equipment.usage").values_list("action", flat=True)
    )
    assert actions == ["equipment.usage.started", "equipment.usage.ended"]


def test_another_batch_is_refused_while_in_use_and_the_attempt_recorded(unit, operator):
    _start(operator, unit)
    events = AuditEvent.objects.count()
    rows = list(Usage.objects.values_list())
    with pytest.raises(InterlockBlocked, match="in use by batch B-2026-0012"):
        _start(operator, unit, batch_ref=("manufacturing.batch", "13"), batch_label="B-2026-0013")
    blocked = AuditEvent.objects.get(action="equipment.usage.start.blocked")
    assert blocked.record_type == "equipment.equipment"
    assert AuditEvent.objects.count() == events + 1  # the refusal only
    assert list(Usage.objects.values_list()) == rows


def test_the_same_batch_may_start_a_second_step(unit, operator):
    _start(operator, unit)
    _start(operator, unit, step="Second wash")
    assert Usage.objects.filter(ended_at__isnull=True).count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"batch_ref": "B-1"}, "batch_ref"),
        ({"batch_ref": ("manufacturing.batch",)}, "batch_ref"),
        ({"batch_ref": ("", "1")}, "batch_ref"),
        ({"batch_label": ""}, "batch_label"),
        ({"step": "x" * 201}, "step"),
        ({"at": ago(days=-1)}, "at"),
        ({"at": "now"}, "at"),
    ],
)
def test_start_bad_input_names_the_field(unit, operator, change, field):
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(ValidationFailed) as bad:
        _start(operator, unit, **change)
    assert bad.value.field == field


def test_usage_roles(unit, qc, qa_reviewer, operator):
    with nothing_written(*EQUIPMENT_MODELS):
        for who in (qc, qa_reviewer):
            with pytest.raises(PermissionRefused):
                _start(who, unit)
    usage = _start(operator, unit)
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(PermissionRefused):
        services.end_usage(actor=qc, usage_id=usage.pk)


def test_end_refusals(unit, operator, supervisor):
    usage = use(supervisor, unit, "B-1", ago(hours=2))
    with nothing_written(*EQUIPMENT_MODELS):
        with pytest.raises(ValidationFailed) as bad:
            services.end_usage(actor=operator, usage_id=usage.pk, at=ago(hours=3))
        assert bad.value.field == "at"
        with pytest.raises(ValidationFailed) as bad:
            services.end_usage(actor=operator, usage_id="x")
        assert bad.value.field == "usage_id"
    services.end_usage(actor=operator, usage_id=usage.pk)
    with nothing_written(*EQUIPMENT_MODELS), pytest.raises(Conflict, match="already ended"):
        services.end_usage(actor=operator, usage_id=usage.pk)
