"""Demo training, made through the training services (real audit trail and signatures) after the
documents demo. Idempotent: a second run finds everything done and writes nothing.

- Qualification types: aseptic gowning (12 months), APS (6), the NC-200 counter (24) and the
  transduction step (12).
- Curricula: operators read SOP-0001 (trainer-led) to SOP-0006 and WI-0001 and hold gowning and
  APS; QA reviewers and approvers read SOP-0007 and FRM-0001.
- Olivia Ortiz (operator) has signed every read, the supervisor signed off SOP-0001, and she
  holds gowning, APS and NC-200, granted by Sofia Sato (supervisor).
- Omar Okafor (operator2) has read everything but SOP-0004 and holds gowning only, so a batch
  step shows a training refusal: "SOP-0004 v1 not read; Aseptic process simulation not held".
"""

from __future__ import annotations

from dataclasses import dataclass

from vein2vein.core.demo import DEMO_PASSWORD, demo_user_if_loaded
from vein2vein.core.models import Site, User

from . import selectors, services, tasks
from .choices import AssignmentStatus, QualificationKind, QualificationStatus
from .models import Curriculum, Qualification, QualificationType, TrainingAssignment


@dataclass(frozen=True)
class DemoType:
    code: str
    name: str
    kind: QualificationKind
    validity_months: int
    subject: str = ""
    description: str = ""


@dataclass(frozen=True)
class DemoCurriculum:
    role: str
    name: str
    author: str
    documents: tuple[str, ...]
    trainer_led: tuple[str, ...] = ()
    qualifications: tuple[str, ...] = ()


TYPES = (
    DemoType(
        "ASEPTIC-GOWNING",
        "Aseptic gowning",
        QualificationKind.ASEPTIC,
        12,
        description="Gowning qualification with contact plates on three consecutive entries.",
    ),
    DemoType(
        "APS",
        "Aseptic process simulation",
        QualificationKind.ASEPTIC,
        6,
        description="Participation in a passing media fill of the closed-system process.",
    ),
    DemoType(
        "NC-200",
        "NucleoCounter NC-200 operation",
        QualificationKind.INSTRUMENT,
        24,
        subject="NucleoCounter NC-200 viable cell counter",
    ),
    DemoType(
        "STEP-TRANSDUCTION",
        "Lentiviral transduction",
        QualificationKind.PROCESS_STEP,
        12,
        subject="T-cell activation and lentiviral transduction (SOP-0004)",
    ),
)

OPERATOR_DOCUMENTS = (
    "SOP-0001",
    "SOP-0002",
    "SOP-0003",
    "SOP-0004",
    "SOP-0005",
    "SOP-0006",
    "WI-0001",
)
QA_DOCUMENTS = ("SOP-0007", "FRM-0001")

CURRICULA = (
    DemoCurriculum(
        "operator",
        "Manufacturing operator",
        "supervisor",
        OPERATOR_DOCUMENTS,
        trainer_led=("SOP-0001",),
        qualifications=("ASEPTIC-GOWNING", "APS"),
    ),
    DemoCurriculum("qa_reviewer", "QA reviewer", "qa", QA_DOCUMENTS),
    DemoCurriculum("qa_approver", "QA approver", "qa", QA_DOCUMENTS),
)

# Who has read what and holds what: (username, documents not to sign, qualifications).
TRAINED = (
    ("operator", (), ("ASEPTIC-GOWNING", "APS", "NC-200")),
    ("operator2", ("SOP-0004",), ("ASEPTIC-GOWNING",)),
)
SITE = "MFG-PHL"
TRAINER = "supervisor"


def _ensure_types(actor: User) -> None:
    for spec in TYPES:
        if not QualificationType.objects.filter(code=spec.code).exists():
            services.create_qualification_type(
                actor=actor,
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                validity_months=spec.validity_months,
                subject=spec.subject,
                description=spec.description,
            )


def _ensure_curriculum(spec: DemoCurriculum) -> None:
    author = demo_user_if_loaded(spec.author)
    if author is None:
        print(f"training demo: user {spec.author} is missing; curriculum {spec.name} skipped")
        return
    curriculum = Curriculum.objects.filter(role=spec.role, site__isnull=True).first()
    if curriculum is None:
        curriculum = services.create_curriculum(actor=author, role=spec.role, name=spec.name)
    present = {i.requirement for i in selectors.curriculum_items(curriculum)}
    for number in spec.documents:
        if number in present:
            continue
        if selectors.get_document(number) is None:
            print(f"training demo: document {number} is missing; not added to {spec.name}")
            continue
        services.add_curriculum_document(
            actor=author,
            curriculum_id=curriculum.pk,
            document_number=number,
            trainer_led=number in spec.trainer_led,
        )
    for code in spec.qualifications:
        if code not in present:
            services.add_curriculum_qualification(
                actor=author, curriculum_id=curriculum.pk, qualification_code=code
            )


def _train(trainee: User, skip: tuple[str, ...], trainer: User) -> None:
    """The trainee signs each open read (but `skip`); the trainer signs off trainer-led ones."""
    for assignment in selectors.open_assignments(trainee):
        if assignment.document_version.document.number in skip:
            continue
        if assignment.status == AssignmentStatus.ASSIGNED:
            services.sign_assignment(
                actor=trainee,
                assignment_id=assignment.pk,
                password=DEMO_PASSWORD,
                reason="Read and understood",
            )
    for assignment in TrainingAssignment.objects.filter(
        trainee=trainee, status=AssignmentStatus.AWAITING_TRAINER
    ):
        services.sign_off_assignment(
            actor=trainer,
            assignment_id=assignment.pk,
            password=DEMO_PASSWORD,
            reason="Observed in the cleanroom; understanding verified",
        )


def _qualify(person: User, codes: tuple[str, ...], supervisor: User, site: Site) -> None:
    for code in codes:
        held = Qualification.objects.filter(
            user=person, qualification_type__code=code, status=QualificationStatus.ACTIVE
        ).exists()
        if not held:
            services.grant_qualification(
                actor=supervisor,
                user_id=person.pk,
                qualification_code=code,
                site_id=site.pk,
                password=DEMO_PASSWORD,
                note="Demo: assessment passed",
            )


def load_demo() -> None:
    supervisor = demo_user_if_loaded(TRAINER)
    site = Site.objects.filter(code=SITE).first()
    if supervisor is None or site is None:
        print("training demo: the core demo (supervisor, MFG-PHL) is missing; skipped")
        return
    _ensure_types(supervisor)
    for spec in CURRICULA:
        _ensure_curriculum(spec)
    # The same task a worker runs after role grants: whoever holds a role gets its reads.
    tasks.sync_training_assignments.apply()
    for username, skip, codes in TRAINED:
        person = demo_user_if_loaded(username)
        if person is None:
            print(f"training demo: user {username} is missing; skipped")
            continue
        _train(person, skip, supervisor)
        _qualify(person, codes, supervisor, site)
