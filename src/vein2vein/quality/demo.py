"""Quality demo data, made through the services so it has a real audit trail. Idempotent:
each story is created once, recognised by its title.

- An apheresis bag label mismatch, open in QA's queue.
- A centrifuge calibration lapse under investigation.
- A cryobag label printed from an old template: closed, with a CAPA whose effectiveness
  check passed.
- A change control waiting for the QA approver's signature.
"""

from __future__ import annotations

import datetime as dt

from vein2vein.core.demo import DEMO_PASSWORD
from vein2vein.core.models import Site, User
from vein2vein.core.time import now

from . import services
from .models import ChangeControl, Deviation

LABEL_MISMATCH = "Apheresis bag label mismatch at goods-in"
CENTRIFUGE = "Centrifuge CENT-02 used after its calibration lapsed"
OLD_TEMPLATE = "Cryobag labels printed from a superseded template"
CHANGE = "Second-person check of the DIN at goods-in"


def _in_days(days: int) -> dt.date:
    return now().date() + dt.timedelta(days=days)


def _exists(title: str) -> bool:
    return Deviation.objects.filter(title=title).exists()


def load_demo() -> None:
    site = Site.objects.filter(code="MFG-PHL").first()
    if site is None:
        return
    names = ("operator", "operator2", "supervisor", "qa", "qa_approver")
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    if len(users) != len(names):
        return
    _label_mismatch(site, users)
    _centrifuge(site, users)
    _old_template(site, users)
    _change(site, users)


def _label_mismatch(site: Site, users: dict[str, User]) -> None:
    if _exists(LABEL_MISMATCH):
        return
    source = Site.objects.filter(code="APH-CHI").first() or site
    dev = services.raise_deviation(
        source=source,
        category="identity",
        title=LABEL_MISMATCH,
        description="The DIN on the apheresis bag label (W0000 26 123456 D) does not match the "
        "DIN on the order. The scan at goods-in refused the bag.",
        actor=users["operator"],
        site=site,
    )
    services.update_investigation(
        actor=users["supervisor"],
        deviation_id=dev.pk,
        immediate_actions="Bag quarantined in the goods-in fridge; the apheresis center called.",
    )


def _centrifuge(site: Site, users: dict[str, User]) -> None:
    if _exists(CENTRIFUGE):
        return
    dev = services.create_deviation(
        actor=users["operator2"],
        site_id=site.pk,
        title=CENTRIFUGE,
        description="CENT-02 was used for the cell wash of two batches; its calibration had "
        "expired the day before.",
        category="equipment",
        immediate_actions="CENT-02 tagged out of use; both batches on hold.",
    )
    services.classify_deviation(
        actor=users["qa"],
        deviation_id=dev.pk,
        classification="major",
        justification="Two batches processed on uncalibrated equipment; no direct patient "
        "exposure yet.",
    )
    services.start_investigation(
        actor=users["qa"], deviation_id=dev.pk, investigator_id=users["supervisor"].pk
    )
    services.update_investigation(
        actor=users["supervisor"],
        deviation_id=dev.pk,
        impact_product="Speed and time checked against the batch records: within limits.",
        root_cause_method="five_whys",
        five_whys=[
            {
                "why": "Why was CENT-02 used?",
                "answer": "The equipment screen showed no calibration warning",
            },
            {
                "why": "Why no warning?",
                "answer": "The due date was kept in a spreadsheet, not in the system",
            },
        ],
    )


def _old_template(site: Site, users: dict[str, User]) -> None:
    if _exists(OLD_TEMPLATE):
        return
    operator, supervisor = users["operator"], users["supervisor"]
    dev = services.create_deviation(
        actor=operator,
        site_id=site.pk,
        title=OLD_TEMPLATE,
        description="Three cryobag labels showed the previous storage statement.",
        category="documentation",
        immediate_actions="Labels reprinted and verified before freezing.",
    )
    services.classify_deviation(
        actor=supervisor,
        deviation_id=dev.pk,
        classification="minor",
        justification="Caught before freezing; no product left the site.",
    )
    services.start_investigation(actor=supervisor, deviation_id=dev.pk)
    services.update_investigation(
        actor=supervisor,
        deviation_id=dev.pk,
        impact_product="None: labels replaced before freezing.",
        impact_patient="None.",
        root_cause_method="ishikawa",
        ishikawa={
            "method": ["Template change not announced"],
            "machine": ["Printer cached the old template"],
        },
        root_cause_category="procedure",
        root_cause="Label templates were changed outside change control.",
    )
    capa = services.create_capa(
        actor=supervisor,
        title="Label templates under change control",
        description="Label templates changed without change control or cache clearing.",
        deviation_ids=[dev.pk],
    )
    action = services.add_action(
        actor=supervisor,
        capa_id=capa.pk,
        kind="corrective",
        description="Move label templates into the controlled documents.",
        owner_id=operator.pk,
        due_date=_in_days(14),
    )
    services.complete_action(
        actor=operator,
        action_id=action.pk,
        evidence="Templates controlled as FORM-0012; printer cache cleared.",
        evidence_ref="FORM-0012 v1",
    )
    check = services.plan_effectiveness_check(
        actor=supervisor,
        capa_id=capa.pk,
        due_date=_in_days(30),
        criteria="No label template deviation in the next 20 batches.",
    )
    services.record_effectiveness_check(
        actor=users["qa"],
        check_id=check.pk,
        result="pass",
        password=DEMO_PASSWORD,
        comment="20 batches labelled without a template deviation.",
    )
    services.close_capa(actor=users["qa_approver"], capa_id=capa.pk, comment="Effective.")
    services.submit_for_approval(actor=supervisor, deviation_id=dev.pk)
    services.close_deviation(
        actor=users["qa_approver"],
        deviation_id=dev.pk,
        password=DEMO_PASSWORD,
        comment="Root cause addressed by CAPA; no product impact.",
    )


def _change(site: Site, users: dict[str, User]) -> None:
    if ChangeControl.objects.filter(title=CHANGE).exists():
        return
    change = services.create_change(
        actor=users["qa"],
        site_id=site.pk,
        title=CHANGE,
        what="A second person confirms the DIN on every apheresis bag against the order "
        "before it is accepted.",
        why="The label mismatch deviation showed a single check can miss a transposed digit.",
        affected={"documents": ["SOP-0101 Goods-in of apheresis material"]},
        validation_impact=False,
        regulatory_impact=False,
        training_impact=True,
        training_notes="Goods-in operators read SOP-0101 v2.",
    )
    services.add_task(
        actor=users["qa"],
        change_id=change.pk,
        description="Revise SOP-0101 and train the goods-in operators.",
        owner_id=users["operator"].pk,
        due_date=_in_days(21),
    )
    services.submit_change(actor=users["qa"], change_id=change.pk)
    services.approve_change(
        actor=users["supervisor"],
        change_id=change.pk,
        password=DEMO_PASSWORD,
        reason="Fits the goods-in workflow.",
    )
