"""Set-up for quality tests. Records are made through the services (so they carry a real audit
trail); `DeviationFactory` writes a row directly only where a test needs a state the clock
cannot reach (a due date in the past)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory

from tests.conftest import PASSWORD
from vein2vein.core.models import Site, User
from vein2vein.core.time import now
from vein2vein.quality import services
from vein2vein.quality.models import Capa, CapaAction, ChangeControl, Deviation

FIVE_WHYS = [
    {"why": "Why was the label wrong?", "answer": "The template had the old layout"},
    {"why": "Why the old layout?", "answer": "The template was not under change control"},
]


class DeviationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deviation

    number = factory.Sequence(lambda n: f"DEV-1999-{n + 1:04d}")
    title = "Row written directly for a test"
    description = "Set-up only"
    category = "process"
    raised_at = factory.LazyFunction(now)
    detected_at = factory.LazyFunction(now)
    due_date = factory.LazyFunction(lambda: now().date() + dt.timedelta(days=30))


def in_days(days: int) -> dt.date:
    return now().date() + dt.timedelta(days=days)


def raise_one(actor: User, site: Site, **overrides: Any) -> Deviation:
    values: dict[str, Any] = {
        "title": "Apheresis bag label mismatch",
        "description": "The bag label DIN did not match the order's DIN at goods-in.",
        "category": "identity",
    }
    values.update(overrides)
    return services.create_deviation(actor=actor, site_id=site.pk, **values)


def classified(actor: User, site: Site, raised_by: User | None = None, **kw: Any) -> Deviation:
    dev = raise_one(raised_by or actor, site, **kw)
    return services.classify_deviation(
        actor=actor,
        deviation_id=dev.pk,
        classification="major",
        justification="Potential mix-up of patient material",
    )


def investigating(investigator: User, site: Site, raised_by: User | None = None) -> Deviation:
    dev = classified(investigator, site, raised_by=raised_by)
    return services.start_investigation(actor=investigator, deviation_id=dev.pk)


def investigated(investigator: User, site: Site, raised_by: User | None = None) -> Deviation:
    dev = investigating(investigator, site, raised_by=raised_by)
    return services.update_investigation(
        actor=investigator,
        deviation_id=dev.pk,
        immediate_actions="Bag quarantined; order put on hold",
        impact_product="None: the bag was not processed",
        impact_patient="None: the right bag was found within its stability time",
        root_cause_method="five_whys",
        five_whys=FIVE_WHYS,
        root_cause_category="procedure",
        root_cause="Label template outside change control",
    )


def pending(investigator: User, site: Site, raised_by: User | None = None) -> Deviation:
    dev = investigated(investigator, site, raised_by=raised_by)
    return services.submit_for_approval(actor=investigator, deviation_id=dev.pk)


def capa_with_action(
    manager: User, owner: User, deviation: Deviation | None = None, site: Site | None = None
) -> tuple[Capa, CapaAction]:
    capa = services.create_capa(
        actor=manager,
        title="Bring label templates under change control",
        description="Labels printed from uncontrolled templates",
        site_id=site.pk if deviation is None and site is not None else None,
        deviation_ids=[deviation.pk] if deviation is not None else [],
    )
    action = services.add_action(
        actor=manager,
        capa_id=capa.pk,
        kind="corrective",
        description="Move the templates into the document system",
        owner_id=owner.pk,
        due_date=in_days(14),
    )
    return capa, action


def effective_capa(manager: User, owner: User, checker: User, deviation: Deviation) -> Capa:
    """A CAPA with its action done and an effectiveness check passed, ready to close."""
    capa, action = capa_with_action(manager, owner, deviation)
    services.complete_action(actor=owner, action_id=action.pk, evidence="Templates moved")
    check = services.plan_effectiveness_check(
        actor=manager,
        capa_id=capa.pk,
        due_date=in_days(60),
        criteria="No label deviation in 3 months",
    )
    services.record_effectiveness_check(
        actor=checker, check_id=check.pk, result="pass", password=PASSWORD
    )
    return capa


def change_draft(requester: User, site: Site, **overrides: Any) -> ChangeControl:
    values: dict[str, Any] = {
        "title": "New centrifuge program for cell wash",
        "what": "Replace program 4 with program 7 on the Sepax",
        "why": "Program 4 gives variable recovery",
        "affected": {"documents": ["SOP-0042"], "equipment": ["CENT-01"]},
        "validation_impact": True,
        "validation_notes": "Process validation run on three lots",
        "regulatory_impact": False,
        "training_impact": True,
        "training_notes": "Operators read SOP-0042 v4",
    }
    values.update(overrides)
    return services.create_change(actor=requester, site_id=site.pk, **values)
