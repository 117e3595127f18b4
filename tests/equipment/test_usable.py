"""The equipment gate: `check_equipment_usable` refuses each unusable state with its reason,
at the moment of use; `require_equipment_usable` records the blocked attempt and nothing else."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from tests.core.helpers import nothing_written
from tests.equipment.factories import (
    EQUIPMENT_MODELS,
    ago,
    in_service,
    qualify,
    record,
    register,
    use,
)
from vein2vein.core.audit import verify_chain
from vein2vein.core.errors import InterlockBlocked
from vein2vein.core.models import AuditEvent
from vein2vein.equipment import selectors, services
from vein2vein.equipment.selectors import check_equipment_usable

BATCH = ("manufacturing.batch", "B-2026-0001")


@pytest.fixture
def ready(site, supervisor, qa_approver, protocol):  # type: ignore[no-untyped-def]
    return in_service(site, supervisor, qa_approver, protocol)


def _noon(day: dt.date, zone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=ZoneInfo(zone))


def test_a_qualified_calibrated_unit_in_service_is_usable(ready):
    unit, _ = ready
    result = check_equipment_usable(unit, batch_ref=BATCH)
    assert result.ok and bool(result) and result.reasons == []
    assert "is usable" in result.message


def test_out_of_service_is_refused(ready, supervisor):
    unit, _ = ready
    services.change_status(
        actor=supervisor, equipment_id=unit.equipment_id, status="out_of_service", reason="Noise"
    )
    unit.refresh_from_db()
    result = check_equipment_usable(unit)
    assert not result.ok
    assert result.reasons == ["status is out of service"]


def test_in_qualification_is_refused(site, supervisor):
    unit = register(supervisor, site)
    reasons = check_equipment_usable(unit).reasons
    assert reasons[0] == "status is in qualification"
    assert "not qualified: IQ, OQ, PQ not approved" in reasons


def test_retired_is_refused(ready, supervisor):
    unit, _ = ready
    services.change_status(
        actor=supervisor, equipment_id=unit.equipment_id, status="retired", reason="Replaced"
    )
    unit.refresh_from_db()
    assert check_equipment_usable(unit).reasons == ["status is retired"]


def test_calibration_due_date_is_in_date_and_the_day_after_is_overdue(ready, site):
    unit, plan = ready
    due = plan.next_due
    assert due == ago(days=1).astimezone(ZoneInfo(site.time_zone)).date() + dt.timedelta(days=365)
    on_due_date = check_equipment_usable(unit, at=_noon(due, site.time_zone))
    assert on_due_date.ok, on_due_date.message
    day_after = check_equipment_usable(unit, at=_noon(due + dt.timedelta(days=1), site.time_zone))
    assert day_after.reasons == [
        f"calibration 'Speed and temperature' overdue: it was due on {due}"
    ]


def test_calibration_lapsed_yesterday_is_refused_now(site, supervisor, qa_approver, protocol):
    """Journey 4 step 3: calibrated 31 days ago on a 30-day interval, so due yesterday."""
    unit, _ = in_service(
        site, supervisor, qa_approver, protocol, calibrated_at=ago(days=31), interval_days=30
    )
    result = check_equipment_usable(unit)
    assert not result.ok
    yesterday = selectors.today(unit.site) - dt.timedelta(days=1)
    assert unit.plans.get().next_due == yesterday
    assert f"overdue: it was due on {yesterday}" in result.message


def test_maintenance_overdue_is_refused(ready, supervisor):
    unit, _ = ready
    plan = services.add_plan(
        actor=supervisor,
        equipment_id=unit.equipment_id,
        kind="maintenance",
        title="Rotor inspection",
        interval_days=30,
    )
    assert check_equipment_usable(unit).reasons == [
        "preventive maintenance 'Rotor inspection' never performed"
    ]

    record(supervisor, plan, at=ago(days=40))
    reasons = check_equipment_usable(unit).reasons
    assert len(reasons) == 1 and reasons[0].startswith(
        "preventive maintenance 'Rotor inspection' overdue: it was due on"
    )


def test_not_qualified_is_refused(site, supervisor, qa_approver, protocol):
    """A unit with IQ and OQ but no PQ approved cannot be used (nor enter service)."""
    unit = register(supervisor, site)
    qualify(unit, supervisor, qa_approver, protocol, stages=("IQ", "OQ"))
    assert "not qualified: PQ not approved" in check_equipment_usable(unit).reasons


def test_in_use_by_another_batch_is_refused_but_the_same_batch_may_continue(ready, supervisor):
    unit, _ = ready
    use(supervisor, unit, "B-2026-0001", ago(hours=2))
    same = check_equipment_usable(unit, batch_ref=BATCH)
    assert same.ok, same.message
    other = check_equipment_usable(unit, batch_ref=("manufacturing.batch", "B-2026-0002"))
    assert len(other.reasons) == 1
    assert other.reasons[0].startswith("in use by batch B-2026-0001 (Harvest and wash) since")
    assert not check_equipment_usable(unit).ok  # no batch named: any usage in progress


def test_an_ended_usage_no_longer_blocks(ready, supervisor):
    unit, _ = ready
    use(supervisor, unit, "B-2026-0001", ago(hours=3), ago(hours=2))
    assert check_equipment_usable(unit, batch_ref=("manufacturing.batch", "B-2")).ok


def test_require_records_the_blocked_attempt_and_changes_nothing_else(ready, supervisor):
    unit, _ = ready
    services.change_status(
        actor=supervisor, equipment_id=unit.equipment_id, status="out_of_service", reason="Noise"
    )
    before = AuditEvent.objects.count()
    rows = {m.__name__: m.objects.count() for m in EQUIPMENT_MODELS}
    with pytest.raises(InterlockBlocked, match="CEN-01 is not usable: status is out of service"):
        services.require_equipment_usable(
            actor=supervisor,
            equipment=unit.equipment_id,
            action="manufacturing.step.execute",
            record=("manufacturing.step", "7"),
            batch_ref=BATCH,
        )
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-seq").first()
    assert event.action == "manufacturing.step.execute.blocked"
    assert event.record_type == "manufacturing.step" and event.record_id == "7"
    assert event.changes["reasons"]["new"] == ["status is out of service"]
    assert {m.__name__: m.objects.count() for m in EQUIPMENT_MODELS} == rows
    assert verify_chain().ok


def test_require_passes_a_usable_unit_without_writing(ready, supervisor):
    unit, _ = ready
    with nothing_written(*EQUIPMENT_MODELS):
        result = services.require_equipment_usable(
            actor=supervisor, equipment=unit, action="x.y", record=unit, batch_ref=BATCH
        )
    assert result.ok


@pytest.mark.django_db(transaction=True)
def test_require_refuses_to_run_inside_a_transaction(site, supervisor, qa_approver, protocol):
    unit, _ = in_service(site, supervisor, qa_approver, protocol)
    with pytest.raises(RuntimeError, match=r"before transaction\.atomic"), transaction.atomic():
        services.require_equipment_usable(actor=supervisor, equipment=unit, action="a", record=unit)
