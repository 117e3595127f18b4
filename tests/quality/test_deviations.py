"""Deviations: raise, classify, investigate, submit, return, cancel, link records; every
refusal writes nothing (or, for an interlock, only the record of the blocked attempt)."""

from __future__ import annotations

import datetime as dt
import threading
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction

from tests.core.factories import grant
from tests.quality.factories import (
    FIVE_WHYS,
    classified,
    in_days,
    investigated,
    investigating,
    pending,
    raise_one,
)
from tests.quality.helpers import unchanged
from vein2vein.core.audit import verify_chain
from vein2vein.core.choices import Role
from vein2vein.core.errors import (
    Conflict,
    NotFound,
    PermissionRefused,
    ValidationFailed,
)
from vein2vein.core.models import AuditEvent
from vein2vein.core.time import now
from vein2vein.quality import selectors, services
from vein2vein.quality.choices import Classification
from vein2vein.quality.models import Deviation, DeviationLink

GMP = [r for r in Role if r not in (Role.ADMIN, Role.INSPECTOR)]


def _local_today(site) -> dt.date:  # type: ignore[no-untyped-def]
    return now().astimezone(ZoneInfo(site.time_zone)).date()


# --- raise ----------------------------------------------------------------------------------
def test_operator_raises_a_numbered_audited_deviation(operator, site):
    dev = raise_one(operator, site, immediate_actions="Bag quarantined")
    year = now().astimezone(ZoneInfo(site.time_zone)).year
    assert dev.number == f"DEV-{year}-0001"
    assert (dev.status, dev.raised_by, dev.site, dev.classification) == (
        "open",
        operator,
        site,
        "",
    )
    assert dev.due_date == _local_today(site) + dt.timedelta(days=30)
    assert not dev.is_overdue
    event = AuditEvent.objects.get(action="quality.deviation.raised")
    assert (event.actor, event.record_type, event.record_id) == (
        operator,
        "quality.deviation",
        str(dev.pk),
    )
    assert event.changes["immediate_actions"] == {"old": None, "new": "Bag quarantined"}
    assert raise_one(operator, site).number == f"DEV-{year}-0002"
    assert verify_chain().ok


@pytest.mark.parametrize("role", GMP)
def test_every_gmp_role_may_raise(make_user, site, role):
    assert raise_one(make_user(role), site).status == "open"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.INSPECTOR])
def test_admin_and_inspector_may_not_raise(make_user, site, role):
    actor = make_user(role)
    with unchanged(), pytest.raises(PermissionRefused, match=r"quality\.deviation\.raise"):
        raise_one(actor, site)


def test_a_role_at_another_site_does_not_count(make_user, make_site, site):
    elsewhere = make_user(Role.OPERATOR, at=make_site(code="OTHER"))
    with unchanged(), pytest.raises(PermissionRefused, match="at MFG-TEST"):
        raise_one(elsewhere, site)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "title is required"),
        ("title", "x" * 201, "at most 200"),
        ("description", "  ", "description is required"),
        ("category", "weather", "category must be one of"),
        ("detected_at", dt.datetime(2999, 1, 1, tzinfo=dt.UTC), "in the future"),
        ("detected_at", dt.datetime(2026, 1, 1), "time zone"),
        ("detected_at", "yesterday", "date and time"),
        ("classification", "huge", "classification must be one of"),
        ("source_type", "nope.nothing", "not a known record"),
        ("immediate_actions", "bad\x00", "control characters"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(operator, site, field, value, message):
    expected = "source" if field == "source_type" else field
    extra = {"source_id": "1"} if field == "source_type" else {}
    with unchanged(), pytest.raises(ValidationFailed, match=message) as exc:
        raise_one(operator, site, **{field: value, **extra})
    assert exc.value.field == expected


def test_unknown_site_is_not_found(operator):
    with unchanged(), pytest.raises(NotFound) as exc:
        services.create_deviation(
            actor=operator, site_id=99999, title="t", description="d", category="other"
        )
    assert exc.value.field == "site_id"


def test_classification_at_raise_needs_justification_and_a_manager(operator, supervisor, site):
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        raise_one(supervisor, site, classification="minor")
    assert exc.value.field == "classification_justification"
    with unchanged(), pytest.raises(PermissionRefused, match=r"quality\.deviation\.manage"):
        raise_one(operator, site, classification="minor", classification_justification="why")
    dev = raise_one(supervisor, site, classification="minor", classification_justification="w")
    assert dev.classification == "minor"


# --- raise_deviation: the door for other apps -----------------------------------------------
def test_raise_deviation_from_a_model_instance_takes_its_site(operator, supervisor, site):
    capa = services.create_capa(
        actor=supervisor, title="Label control", description="d", site_id=site.pk
    )
    dev = services.raise_deviation(
        source=capa,
        category="documentation",
        description="CAPA evidence missing for the label template change\nmore detail",
        actor=operator,
    )
    assert (dev.source_type, dev.source_id) == ("quality.capa", str(capa.pk))
    assert dev.site == site
    assert dev.title == "CAPA evidence missing for the label template change"
    assert selectors.describe(dev.source_type, dev.source_id) == str(capa)


def test_raise_deviation_from_a_reference_pair_and_by_the_system(site, operator):
    dev = services.raise_deviation(
        source=("core.site", str(site.pk)),
        category="temperature",
        description="Freezer alarm",
        actor=None,
        title="LN2 freezer 3 above -150 °C",
    )
    assert dev.raised_by is None and dev.site == site
    event = AuditEvent.objects.get(action="quality.deviation.raised", record_id=str(dev.pk))
    assert event.actor_username == "system"


def test_raise_deviation_joins_the_callers_transaction(operator, site):
    """Called inside another app's service: if the caller rolls back, so does the deviation."""
    with unchanged(), pytest.raises(RuntimeError, match="caller failed"), transaction.atomic():
        services.raise_deviation(
            source=site, category="identity", description="COI mismatch", actor=operator
        )
        raise RuntimeError("caller failed")


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        (("core.nothing", "1"), ValidationFailed, "not a known record"),
        (("core.site", "999999"), NotFound, "does not exist"),
        (("core.site",), ValidationFailed, "pair"),
        ("core.site:1", ValidationFailed, "pair"),
    ],
)
def test_raise_deviation_refuses_a_bad_source(operator, site, source, error, message):
    with unchanged(), pytest.raises(error, match=message) as exc:
        services.raise_deviation(source=source, category="other", description="d", actor=operator)
    assert exc.value.field == "source"


def test_raise_deviation_needs_a_site_when_the_source_has_none(make_user, make_site, site):
    roaming = make_user(Role.OPERATOR)
    # The same person at a second site: there is no single default.
    grant(roaming, Role.OPERATOR, make_site(code="SECOND"))
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.raise_deviation(source=roaming, category="other", description="d", actor=roaming)
    assert exc.value.field == "site"
    dev = services.raise_deviation(
        source=roaming, category="other", description="d", actor=roaming, site=site
    )
    assert dev.site == site


def test_unsaved_source_is_refused(operator, site):
    with unchanged(), pytest.raises(ValidationFailed, match="saved") as exc:
        services.raise_deviation(
            source=Deviation(), category="other", description="d", actor=operator, site=site
        )
    assert exc.value.field == "source"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_raises_get_distinct_numbers(operator, site):
    """Two writers at once: the sequence row lock hands out two numbers, never one twice."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE; the race needs PostgreSQL")
    start = threading.Barrier(4)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            start.wait()
            numbers.append(raise_one(operator, site).number)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len(numbers) == 4 and len(set(numbers)) == 4
    assert sorted(n[-4:] for n in numbers) == ["0001", "0002", "0003", "0004"]
    assert verify_chain().ok


# --- classification -------------------------------------------------------------------------
@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.QA_REVIEWER, Role.QA_APPROVER])
def test_managers_classify(make_user, operator, site, role):
    dev = raise_one(operator, site)
    dev = services.classify_deviation(
        actor=make_user(role), deviation_id=dev.pk, classification="minor", justification="Low"
    )
    assert (dev.classification, dev.classification_justification) == ("minor", "Low")


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.QC_ANALYST, Role.ADMIN, Role.INSPECTOR])
def test_others_may_not_classify(make_user, operator, site, role):
    dev, actor = raise_one(operator, site), make_user(role)
    with unchanged(), pytest.raises(PermissionRefused):
        services.classify_deviation(
            actor=actor, deviation_id=dev.pk, classification="minor", justification="x"
        )


def test_classification_needs_a_justification_and_a_known_class(supervisor, operator, site):
    dev = raise_one(operator, site)
    cases = [("minor", "", "classification_justification"), ("x", "y", "classification")]
    for cls, why, field in cases:
        with unchanged(), pytest.raises(ValidationFailed) as exc:
            services.classify_deviation(
                actor=supervisor, deviation_id=dev.pk, classification=cls, justification=why
            )
        assert exc.value.field == field


def test_reclassification_needs_a_reason_and_is_audited_old_to_new(supervisor, operator, site):
    dev = classified(supervisor, site, raised_by=operator)
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.classify_deviation(
            actor=supervisor, deviation_id=dev.pk, classification="critical", justification="j"
        )
    assert exc.value.field == "reason"
    services.classify_deviation(
        actor=supervisor,
        deviation_id=dev.pk,
        classification="critical",
        justification="Patient material could have been released",
        reason="New facts from the investigation",
    )
    event = AuditEvent.objects.get(action="quality.deviation.reclassified")
    assert event.changes["classification"] == {"old": "major", "new": "critical"}
    assert event.reason == "New facts from the investigation"
    with unchanged(), pytest.raises(ValidationFailed, match="nothing to change"):
        services.classify_deviation(
            actor=supervisor,
            deviation_id=dev.pk,
            classification="critical",
            justification="Patient material could have been released",
            reason="again",
        )


def test_due_date_follows_the_configured_days_per_class(settings, supervisor, operator, site):
    settings.QUALITY_DEVIATION_DUE_DAYS = {"critical": 7}
    dev = raise_one(operator, site)
    assert dev.due_date == _local_today(site) + dt.timedelta(days=30)
    dev = services.classify_deviation(
        actor=supervisor, deviation_id=dev.pk, classification="critical", justification="j"
    )
    assert dev.due_date == _local_today(site) + dt.timedelta(days=7)
    event = AuditEvent.objects.get(action="quality.deviation.classified")
    assert event.changes["due_date"]["new"] == dev.due_date.isoformat()
    dev = services.classify_deviation(
        actor=supervisor,
        deviation_id=dev.pk,
        classification="minor",
        justification="j",
        reason="downgraded",
    )
    assert dev.due_date == _local_today(site) + dt.timedelta(days=30)


def test_defaults_are_thirty_days_for_every_class():
    from vein2vein.quality.choices import due_days

    assert {c: due_days(c) for c in ["", *Classification.values]} == {
        "": 30,
        "minor": 30,
        "major": 30,
        "critical": 30,
    }


# --- investigation --------------------------------------------------------------------------
def test_investigation_starts_only_once_classified(supervisor, operator, site):
    dev = raise_one(operator, site)
    with unchanged(), pytest.raises(Conflict) as exc:
        services.start_investigation(actor=supervisor, deviation_id=dev.pk)
    assert exc.value.field == "classification"
    dev = services.classify_deviation(
        actor=supervisor, deviation_id=dev.pk, classification="minor", justification="j"
    )
    dev = services.start_investigation(actor=supervisor, deviation_id=dev.pk)
    assert (dev.status, dev.investigator) == ("under_investigation", supervisor)
    with unchanged(), pytest.raises(Conflict, match="cannot become"):
        services.start_investigation(actor=supervisor, deviation_id=dev.pk)


def test_operator_cannot_lead_or_start_an_investigation(supervisor, operator, site):
    dev = classified(supervisor, site, raised_by=operator)
    with unchanged(), pytest.raises(PermissionRefused):
        services.start_investigation(actor=operator, deviation_id=dev.pk)
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.start_investigation(
            actor=supervisor, deviation_id=dev.pk, investigator_id=operator.pk
        )
    assert exc.value.field == "investigator_id"


def test_a_named_investigator(supervisor, qa_reviewer, operator, site):
    dev = classified(supervisor, site, raised_by=operator)
    dev = services.start_investigation(
        actor=supervisor, deviation_id=dev.pk, investigator_id=qa_reviewer.pk
    )
    assert dev.investigator == qa_reviewer


def test_investigation_records_five_whys_and_ishikawa(supervisor, operator, site):
    dev = investigating(supervisor, site, raised_by=operator)
    dev = services.update_investigation(
        actor=supervisor,
        deviation_id=dev.pk,
        root_cause_method="ishikawa",
        ishikawa={"machine": ["Printer ribbon worn", " "], "method": "Step 3 unclear\nNo check"},
        five_whys=FIVE_WHYS,
    )
    assert dev.ishikawa == {
        "machine": ["Printer ribbon worn"],
        "method": ["Step 3 unclear", "No check"],
    }
    assert dev.five_whys == FIVE_WHYS
    event = AuditEvent.objects.get(action="quality.deviation.investigation_updated")
    assert event.changes["root_cause_method"] == {"old": "", "new": "ishikawa"}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"five_whys": [{"why": "w", "answer": "a"}] * 6}, "five_whys", "at most 5"),
        ({"five_whys": [{"why": "w"}]}, "five_whys", "both"),
        ({"five_whys": [{"why": "w", "answer": "a", "x": 1}]}, "five_whys", "'why' and"),
        ({"five_whys": "why?"}, "five_whys", "list"),
        ({"ishikawa": {"money": ["x"]}}, "ishikawa", "6M|one of"),
        ({"ishikawa": ["machine"]}, "ishikawa", "map"),
        ({"ishikawa": {"machine": 3}}, "ishikawa", "list of causes"),
        ({"root_cause_method": "guess"}, "root_cause_method", "one of"),
        ({"root_cause_category": "bad luck"}, "root_cause_category", "one of"),
        ({"status": "closed"}, "status", "cannot be changed"),
        ({"impact_patient": "x" * 10_001}, "impact_patient", "at most"),
    ],
)
def test_bad_investigation_input_names_the_field(
    supervisor, operator, site, fields, field, message
):
    dev = investigating(supervisor, site, raised_by=operator)
    with unchanged(), pytest.raises(ValidationFailed, match=message) as exc:
        services.update_investigation(actor=supervisor, deviation_id=dev.pk, **fields)
    assert exc.value.field == field


def test_overwriting_the_investigation_needs_a_reason(supervisor, operator, site):
    dev = investigated(supervisor, site, raised_by=operator)
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.update_investigation(
            actor=supervisor, deviation_id=dev.pk, root_cause="Another cause"
        )
    assert exc.value.field == "reason"
    services.update_investigation(
        actor=supervisor, deviation_id=dev.pk, root_cause="Another cause", reason="Typo"
    )
    event = AuditEvent.objects.filter(action="quality.deviation.investigation_updated").last()
    assert event is not None and event.reason == "Typo"
    assert event.changes["root_cause"]["old"] == "Label template outside change control"
    with unchanged(), pytest.raises(ValidationFailed, match="nothing to change"):
        services.update_investigation(
            actor=supervisor, deviation_id=dev.pk, root_cause="Another cause", reason="x"
        )


def test_operator_cannot_write_the_investigation(supervisor, operator, site):
    dev = investigating(supervisor, site, raised_by=operator)
    with unchanged(), pytest.raises(PermissionRefused):
        services.update_investigation(actor=operator, deviation_id=dev.pk, root_cause="x")


@pytest.mark.parametrize(
    ("blank", "field"),
    [
        ({"impact_product": ""}, "impact_product"),
        ({"impact_patient": ""}, "impact_patient"),
        ({"root_cause_method": ""}, "root_cause_method"),
        ({"five_whys": []}, "five_whys"),
        ({"root_cause_method": "ishikawa"}, "ishikawa"),
        ({"root_cause_category": ""}, "root_cause_category"),
        ({"root_cause": ""}, "root_cause"),
    ],
)
def test_submission_needs_impact_and_root_cause(supervisor, operator, site, blank, field):
    dev = investigated(supervisor, site, raised_by=operator)
    services.update_investigation(actor=supervisor, deviation_id=dev.pk, reason="test", **blank)
    with unchanged(), pytest.raises(ValidationFailed, match="before submitting") as exc:
        services.submit_for_approval(actor=supervisor, deviation_id=dev.pk)
    assert exc.value.field == field


def test_submit_then_qa_returns_it_with_a_reason(supervisor, qa_approver, operator, site):
    dev = pending(supervisor, site, raised_by=operator)
    assert dev.status == "pending_qa_approval" and dev.submitted_by == supervisor
    with unchanged(), pytest.raises(Conflict):
        services.update_investigation(actor=supervisor, deviation_id=dev.pk, root_cause="late")
    with unchanged(), pytest.raises(PermissionRefused):
        services.return_to_investigation(actor=supervisor, deviation_id=dev.pk, reason="r")
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.return_to_investigation(actor=qa_approver, deviation_id=dev.pk, reason="")
    assert exc.value.field == "reason"
    dev = services.return_to_investigation(
        actor=qa_approver, deviation_id=dev.pk, reason="Impact on patient too thin"
    )
    assert dev.status == "under_investigation"
    with unchanged(), pytest.raises(Conflict):
        services.return_to_investigation(actor=qa_approver, deviation_id=dev.pk, reason="again")


def test_submit_from_open_is_refused(supervisor, operator, site):
    dev = raise_one(operator, site)
    with unchanged(), pytest.raises(Conflict, match="cannot become"):
        services.submit_for_approval(actor=supervisor, deviation_id=dev.pk)


# --- cancel ---------------------------------------------------------------------------------
def test_cancel_needs_a_reason_and_keeps_the_record(supervisor, operator, site):
    dev = raise_one(operator, site)
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.cancel_deviation(actor=supervisor, deviation_id=dev.pk, reason=" ")
    assert exc.value.field == "reason"
    with unchanged(), pytest.raises(PermissionRefused):
        services.cancel_deviation(actor=operator, deviation_id=dev.pk, reason="dup")
    dev = services.cancel_deviation(actor=supervisor, deviation_id=dev.pk, reason="Duplicate")
    assert (dev.status, dev.cancel_reason) == ("cancelled", "Duplicate")
    assert dev.cancelled_by == supervisor
    assert Deviation.objects.filter(pk=dev.pk).exists()
    with unchanged(), pytest.raises(Conflict):
        services.cancel_deviation(actor=supervisor, deviation_id=dev.pk, reason="again")


def test_cancel_from_investigation_but_not_from_pending(supervisor, operator, site):
    dev = investigating(supervisor, site, raised_by=operator)
    assert services.cancel_deviation(actor=supervisor, deviation_id=dev.pk, reason="r").status == (
        "cancelled"
    )
    dev = pending(supervisor, site, raised_by=operator)
    with unchanged(), pytest.raises(Conflict, match="cannot become cancelled"):
        services.cancel_deviation(actor=supervisor, deviation_id=dev.pk, reason="r")


def test_unknown_deviation_is_not_found(supervisor):
    with unchanged(), pytest.raises(NotFound) as exc:
        services.cancel_deviation(actor=supervisor, deviation_id=424242, reason="r")
    assert exc.value.field == "deviation_id"
    with unchanged(), pytest.raises(ValidationFailed) as exc2:
        services.cancel_deviation(actor=supervisor, deviation_id="1", reason="r")  # type: ignore[arg-type]
    assert exc2.value.field == "deviation_id"


# --- overdue --------------------------------------------------------------------------------
def test_overdue_is_computed_from_server_time_at_the_site(supervisor, operator, site):
    dev = raise_one(operator, site)
    later = now() + dt.timedelta(days=31)
    with mock.patch("django.utils.timezone.now", return_value=later):
        dev.refresh_from_db()
        assert dev.is_overdue
        assert [d.pk for d in selectors.deviations(overdue=True)] == [dev.pk]
        assert [d.pk for d in selectors.overdue().deviations] == [dev.pk]
        assert list(selectors.deviations(overdue=False)) == []
    assert not dev.is_overdue
    assert list(selectors.deviations(overdue=True)) == []
    services.cancel_deviation(actor=supervisor, deviation_id=dev.pk, reason="Raised in error")
    with mock.patch("django.utils.timezone.now", return_value=later):
        dev.refresh_from_db()
        assert not dev.is_overdue, "a cancelled deviation is never overdue"


def test_list_filters(supervisor, operator, site):
    a = raise_one(operator, site, category="equipment")
    b = classified(supervisor, site, raised_by=supervisor)
    assert {d.pk for d in selectors.deviations(category="equipment")} == {a.pk}
    assert {d.pk for d in selectors.deviations(classification="major")} == {b.pk}
    assert {d.pk for d in selectors.deviations(classification="unclassified")} == {a.pk}
    assert {d.pk for d in selectors.deviations(owner=operator)} == {a.pk}
    assert {d.pk for d in selectors.deviations(status="active")} == {a.pk, b.pk}
    assert {d.pk for d in selectors.deviations(status="closed")} == set()
    assert {d.pk for d in selectors.deviations(site=site)} == {a.pk, b.pk}


# --- affected records -----------------------------------------------------------------------
def test_link_and_remove_an_affected_record(operator, supervisor, site):
    dev = raise_one(operator, site)
    link = services.link_record(
        actor=operator,
        deviation_id=dev.pk,
        record_type="core.site",
        record_id=str(site.pk),
        note="Where it happened",
    )
    assert (link.record_type, link.record_id) == ("core.site", str(site.pk))
    with unchanged(), pytest.raises(ValidationFailed, match="already linked") as exc:
        services.link_record(
            actor=operator, deviation_id=dev.pk, record_type="core.site", record_id=site.pk
        )
    assert exc.value.field == "record_id"
    with unchanged(), pytest.raises(PermissionRefused):
        services.remove_link(actor=operator, link_id=link.pk, reason="wrong")
    with unchanged(), pytest.raises(ValidationFailed) as exc:
        services.remove_link(actor=supervisor, link_id=link.pk, reason="")
    assert exc.value.field == "reason"
    services.remove_link(actor=supervisor, link_id=link.pk, reason="Linked by mistake")
    link.refresh_from_db()
    assert link.removed_by == supervisor and DeviationLink.objects.count() == 1
    with unchanged(), pytest.raises(Conflict):
        services.remove_link(actor=supervisor, link_id=link.pk, reason="again")
    actions = list(
        AuditEvent.objects.filter(record_id=str(dev.pk), action__contains="linked").values_list(
            "action", flat=True
        )
    )
    assert actions == ["quality.deviation.record_linked", "quality.deviation.record_unlinked"]
    # Linked again after removal: a fresh link.
    services.link_record(
        actor=operator, deviation_id=dev.pk, record_type="core.site", record_id=str(site.pk)
    )


@pytest.mark.parametrize(
    ("record_type", "record_id", "field"),
    [
        ("core.nothing", "1", "record_type"),
        ("core.site", "999999", "record_id"),
        ("", "1", "record_type"),
    ],
)
def test_link_to_an_unknown_record_is_refused(operator, site, record_type, record_id, field):
    dev = raise_one(operator, site)
    with unchanged(), pytest.raises((ValidationFailed, NotFound)) as exc:
        services.link_record(
            actor=operator, deviation_id=dev.pk, record_type=record_type, record_id=record_id
        )
    assert exc.value.field == field


def test_link_to_itself_or_to_a_closed_deviation_is_refused(operator, supervisor, site):
    dev = raise_one(operator, site)
    with unchanged(), pytest.raises(ValidationFailed, match="itself"):
        services.link_record(
            actor=operator, deviation_id=dev.pk, record_type="quality.deviation", record_id=dev.pk
        )
    services.cancel_deviation(actor=supervisor, deviation_id=dev.pk, reason="dup")
    with unchanged(), pytest.raises(Conflict):
        services.link_record(
            actor=operator, deviation_id=dev.pk, record_type="core.site", record_id=site.pk
        )


def test_inspector_may_not_link(inspector, operator, site):
    dev = raise_one(operator, site)
    with unchanged(), pytest.raises(PermissionRefused):
        services.link_record(
            actor=inspector, deviation_id=dev.pk, record_type="core.site", record_id=site.pk
        )


def test_due_dates_of_new_work_cannot_be_in_the_past(supervisor, operator, site):
    capa = services.create_capa(actor=supervisor, title="t", description="d", site_id=site.pk)
    with unchanged(), pytest.raises(ValidationFailed, match="in the past") as exc:
        services.add_action(
            actor=supervisor,
            capa_id=capa.pk,
            kind="corrective",
            description="d",
            owner_id=operator.pk,
            due_date=in_days(-2),
        )
    assert exc.value.field == "due_date"
