"""Reads of release: the readiness checklist of a batch (a constant number of queries, however
many batches the tables hold), its dispositions, whether it may ship, and the batches awaiting
disposition.

QC is read only through `vein2vein.qc.selectors.release_testing(batch_id)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from vein2vein.core.audit import jsonable, record_ref
from vein2vein.core.errors import NotFound
from vein2vein.core.models import Signature, User
from vein2vein.core.signing import manifestation
from vein2vein.manufacturing import mbr
from vein2vein.manufacturing.choices import CURRENT, BatchStatus, EntryStatus, StepKind
from vein2vein.manufacturing.models import Batch, StepEntry
from vein2vein.quality.choices import DEVIATION_ACTIVE
from vein2vein.quality.models import Deviation, DeviationLink
from vein2vein.standards.audit_chain import content_hash

from .choices import DECISION_FOLLOWS, Decision, Item, ItemState
from .models import Certificate, ClinicalNotice, Disposition


def _qc_release_testing(batch_id: int) -> Any:
    """QC's release testing of the batch (qc.selectors.release_testing); None while QC has no
    such selector (the item then says so and stays red)."""
    try:
        from vein2vein.qc.selectors import release_testing
    except ImportError:
        return None
    return release_testing(batch_id)


# Tests replace this to stand for QC; everything else reads QC through it.
release_testing_of: Callable[[int], Any] = _qc_release_testing


@dataclass(frozen=True)
class ReadinessItem:
    key: str
    title: str
    state: str  # ItemState
    detail: str
    url: str = ""
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state == ItemState.OK


@dataclass(frozen=True)
class Readiness:
    batch_id: int
    batch_number: str
    coi: str
    items: tuple[ReadinessItem, ...]
    testing: Any = field(default=None, compare=False, repr=False)
    out_of_spec_only: bool = False

    @property
    def ready(self) -> bool:
        """Every item met; an item not applicable yet (labeling, storage) does not block."""
        return all(i.state != ItemState.MISSING for i in self.items)

    def item(self, key: str) -> ReadinessItem:
        return next(i for i in self.items if i.key == key)

    @property
    def missing(self) -> list[ReadinessItem]:
        return [i for i in self.items if i.state == ItemState.MISSING]

    def as_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "batch": self.batch_number,
            "coi": self.coi,
            "ready": self.ready,
            "items": [{**asdict(i), "problems": list(i.problems), "ok": i.ok} for i in self.items],
        }

    def snapshot(self) -> dict[str, Any]:
        """What a disposition stores of it: each item's state and detail."""
        return {
            "ready": self.ready,
            "items": {i.key: {"state": i.state, "detail": i.detail} for i in self.items},
        }


def _url(name: str, *args: object) -> str:
    return reverse(name, args=args)


def batch_id_of(text: str) -> int | None:
    """The id of the batch numbered `text` (or with that id)."""
    found = Batch.objects.filter(number=text).values_list("pk", flat=True).first()
    if found is None and text.isdigit() and len(text) < 19:
        found = Batch.objects.filter(pk=int(text)).values_list("pk", flat=True).first()
    return None if found is None else int(found)


def _batch(batch_id: int) -> Batch:
    b = (
        Batch.objects.select_related("master_record", "master_record__product", "site", "order")
        .filter(pk=batch_id)
        .first()
    )
    if b is None:
        raise NotFound(f"batch {batch_id} does not exist", field="batch_id")
    return b


def _batch_record_item(b: Batch, entries: list[StepEntry]) -> ReadinessItem:
    title = Item.BATCH_RECORD.label
    url = _url("manufacturing:batch_review", b.pk)
    if b.status != BatchStatus.REVIEWED:
        return ReadinessItem(
            Item.BATCH_RECORD,
            title,
            ItemState.MISSING,
            f"the batch is {b.get_status_display().lower()}: QA has not signed its review",
            url,
        )
    ref_type, ref_id = record_ref(b)
    sigs = list(
        Signature.objects.filter(record_type=ref_type, record_id=ref_id, meaning="reviewed")
        .select_related("signer")
        .order_by("-signed_at", "-pk")
    )
    if not sigs:
        return ReadinessItem(
            Item.BATCH_RECORD, title, ItemState.MISSING, "no review signature found", url
        )
    # The batch's signed content from the entries already read (no second read of them).
    content = {
        "number": b.number,
        "coi": b.coi,
        "order": b.order_id,
        "donor_lot": b.donor_lot,
        "master_record": b.master_record.definition_sha256,
        "entries": [e.signed_content() for e in entries],
    }
    digest = content_hash({k: jsonable(v) for k, v in content.items()})
    valid = [s for s in sigs if s.content_hash == digest]
    if not valid:
        return ReadinessItem(
            Item.BATCH_RECORD,
            title,
            ItemState.MISSING,
            "the review signature is no longer valid: the record changed after signing",
            url,
        )
    s = valid[0]
    return ReadinessItem(
        Item.BATCH_RECORD,
        title,
        ItemState.OK,
        f"reviewed and signed by {s.signer_name} ({s.signer.get_username()})",
        url,
    )


def _testing_item(b: Batch, testing: Any) -> tuple[ReadinessItem, bool]:
    """The release-testing item, and whether out-of-spec results are all that is wrong."""
    title = Item.RELEASE_TESTING.label
    url = _url("manufacturing:batch_samples", b.pk)
    if testing is None:
        return (
            ReadinessItem(
                Item.RELEASE_TESTING,
                title,
                ItemState.MISSING,
                "QC release testing is not available",
                url,
            ),
            False,
        )
    if testing.specification is None:
        return (
            ReadinessItem(
                Item.RELEASE_TESTING,
                title,
                ItemState.MISSING,
                "no approved release specification for this product",
                url,
            ),
            False,
        )
    problems: list[str] = []
    first_url = ""
    oos = 0
    other = 0
    for line in testing.lines:
        if line.status == "in_spec":
            continue
        text = {
            "missing": "no result",
            "awaiting_review": "result awaiting second-analyst review",
            "out_of_spec": f"out of specification ({line.result}; {line.criterion})",
            "invalidated_awaiting_retest": "result invalidated, awaiting retest",
        }.get(line.status, line.status)
        problems.append(f"{line.test}: {text}")
        first_url = first_url or (line.url or "")
        if line.status == "out_of_spec":
            oos += 1
        else:
            other += 1
    if not testing.lines:
        problems.append("the specification names no release test")
        other += 1
    if not problems:
        return (
            ReadinessItem(
                Item.RELEASE_TESTING,
                title,
                ItemState.OK,
                f"{len(testing.lines)} test(s) within {testing.specification}",
                url,
            ),
            False,
        )
    return (
        ReadinessItem(
            Item.RELEASE_TESTING,
            title,
            ItemState.MISSING,
            "; ".join(problems),
            first_url or url,
            tuple(problems),
        ),
        oos > 0 and other == 0,
    )


def batch_deviations(b: Batch, entries: list[StepEntry], extra_ids: tuple[int, ...] = ()) -> Any:
    """The deviations of a batch: raised from it, its order or one of its entries (by number),
    linked to it, or QC's OOS investigations of its results."""
    ref_type, ref_id = record_ref(b)
    numbers = {e.deviation for e in entries if e.deviation}
    entry_ids = [str(e.pk) for e in entries]
    about: Any = (
        Q(source_type=ref_type, source_id=ref_id)
        | Q(number__in=numbers)
        | Q(source_type="manufacturing.stepentry", source_id__in=entry_ids)
        | Exists(
            DeviationLink.objects.filter(
                deviation=OuterRef("pk"), record_type=ref_type, record_id=ref_id
            )
        )
    )
    if extra_ids:
        about |= Q(pk__in=list(extra_ids))
    if b.order_id is not None:
        about |= Q(source_type="chain.therapyorder", source_id=str(b.order_id))
    return about


def _deviation_item(b: Batch, entries: list[StepEntry], testing: Any) -> ReadinessItem:
    title = Item.DEVIATIONS.label
    extra = tuple(getattr(testing, "oos_deviation_ids", ()) or ())
    unassessed = list(
        Deviation.objects.filter(batch_deviations(b, entries, extra))
        .filter(status__in=DEVIATION_ACTIVE, impact_product="")
        .order_by("number")
        .values_list("pk", "number")
    )
    if not unassessed:
        return ReadinessItem(
            Item.DEVIATIONS, title, ItemState.OK, "none open without an impact assessment"
        )
    problems = tuple(f"{n}: open, product impact not assessed" for _, n in unassessed)
    return ReadinessItem(
        Item.DEVIATIONS,
        title,
        ItemState.MISSING,
        "; ".join(problems),
        _url("quality:deviation_detail", unassessed[0][0]),
        problems,
    )


def _coi_item(b: Batch, entries: list[StepEntry]) -> ReadinessItem:
    """The MBR's last COI check (the one nearest the final fill) done with a match."""
    title = Item.COI.label
    url = _url("manufacturing:batch_detail", b.pk)
    checks = [s for s in mbr.steps(b.master_record.definition) if s["kind"] == StepKind.COI_CHECK]
    if not checks:
        return ReadinessItem(
            Item.COI,
            title,
            ItemState.MISSING,
            "the master record has no COI check step: identity at fill is not verified",
            url,
        )
    last = checks[-1]
    current = {e.step_key: e for e in entries if e.status in CURRENT}
    e = current.get(last["key"])
    if e is None or e.status != EntryStatus.DONE:
        state = "not recorded" if e is None else "awaiting verification"
        return ReadinessItem(
            Item.COI, title, ItemState.MISSING, f"COI check '{last['key']}' {state}", url
        )
    matched = (e.details or {}).get("matched", "")
    return ReadinessItem(
        Item.COI,
        title,
        ItemState.OK,
        f"COI check '{last['key']}' (entry #{e.seq}) matched {matched}".strip(),
        f"{url}#entry-{e.seq}",
    )


def readiness(batch_id: int) -> Readiness:
    """The release checklist of one batch. Queries: the batch, its entries, its review
    signatures, its deviations, and QC's release testing: the same count for any batch and
    any size of the tables."""
    b = _batch(batch_id)
    entries = list(StepEntry.objects.filter(batch=b).order_by("seq"))
    testing = release_testing_of(b.pk)
    testing_item, oos_only = _testing_item(b, testing)
    items = (
        _batch_record_item(b, entries),
        testing_item,
        _deviation_item(b, entries, testing),
        _coi_item(b, entries),
        ReadinessItem(
            Item.LABELS,
            Item.LABELS.label,
            ItemState.NOT_APPLICABLE,
            "not applicable until labeling lands: label reconciliation is not checked yet",
        ),
        ReadinessItem(
            Item.STORAGE,
            Item.STORAGE.label,
            ItemState.NOT_APPLICABLE,
            "not applicable until storage lands: storage temperature is not checked yet",
        ),
    )
    others_ok = all(i.state != ItemState.MISSING for i in items if i.key != Item.RELEASE_TESTING)
    return Readiness(b.pk, b.number, b.coi, items, testing, oos_only and others_ok)


# --- dispositions -----------------------------------------------------------------------------
def dispositions_of(batch_id: int) -> list[Disposition]:
    return list(
        Disposition.objects.filter(batch_id=batch_id)
        .select_related("decided_by")
        .order_by("decided_at", "pk")
    )


def current_disposition(batch_id: int) -> Disposition | None:
    """The latest decision on the batch (each later one follows the one before)."""
    return (
        Disposition.objects.filter(batch_id=batch_id)
        .select_related("decided_by")
        .order_by("-decided_at", "-pk")
        .first()
    )


def allowed_decisions(current: Disposition | None) -> frozenset[str]:
    return DECISION_FOLLOWS[current.decision if current is not None else None]


@dataclass(frozen=True)
class Shippable:
    shippable: bool
    reason: str

    def __bool__(self) -> bool:
        return self.shippable


def shippable(batch_id: int) -> Shippable:
    """Whether logistics may ship the batch's product, and why (one query)."""
    d = current_disposition(batch_id)
    if d is None:
        return Shippable(False, "not dispositioned: QA has not released it")
    if d.decision == Decision.REJECT:
        return Shippable(False, f"rejected by QA: {d.reason}")
    if d.decision == Decision.HOLD:
        return Shippable(False, f"on quarantine hold: {d.reason}")
    if d.exceptional:
        return Shippable(True, "released exceptionally (out of specification) by QA")
    return Shippable(True, "released by QA")


def is_shippable(batch_id: int) -> bool:
    """For logistics: True only for a batch whose current disposition is a release."""
    return shippable(batch_id).shippable


def release_signature(d: Disposition) -> Signature | None:
    ref_type, ref_id = record_ref(d)
    meaning = "exceptional_release" if d.exceptional else "released"
    return (
        Signature.objects.filter(record_type=ref_type, record_id=ref_id, meaning=meaning)
        .select_related("signer")
        .order_by("-signed_at", "-pk")
        .first()
    )


def signatures_of(d: Disposition) -> list[Any]:
    ref_type, ref_id = record_ref(d)
    return [
        manifestation(s, d)
        for s in Signature.objects.filter(record_type=ref_type, record_id=ref_id)
        .select_related("signer")
        .order_by("signed_at", "pk")
    ]


# --- lists ------------------------------------------------------------------------------------
def awaiting_disposition(user: User) -> QuerySet[Batch]:
    """Batches QA reviewed at the user's sites that have no final disposition (none yet, or a
    quarantine hold)."""
    from vein2vein.manufacturing.selectors import batches_for

    latest = Disposition.objects.filter(batch=OuterRef("pk")).order_by("-decided_at", "-pk")
    final = latest.filter(decision__in=[Decision.RELEASE, Decision.REJECT])
    return (
        batches_for(user, BatchStatus.REVIEWED).exclude(Exists(final)).order_by("reviewed_at", "pk")
    )


def latest_decisions(batch_ids: list[int]) -> dict[int, Disposition]:
    """The current disposition of each batch (one query)."""
    out: dict[int, Disposition] = {}
    for d in Disposition.objects.filter(batch_id__in=batch_ids).order_by("decided_at", "pk"):
        out[d.batch_id] = d
    return out


def certificates_of(batch_id: int) -> list[Certificate]:
    return list(
        Certificate.objects.filter(batch_id=batch_id)
        .select_related("generated_by")
        .order_by("-version")
    )


def notices_for(user: User) -> QuerySet[ClinicalNotice]:
    """Notices of exceptional release addressed to the clinical sites where the user holds a
    role (none without a role at a clinical site: no query is made then)."""
    from vein2vein.core.choices import SiteKind
    from vein2vein.core.permissions import active_assignments_where

    sites = [
        a.site_id
        for a in active_assignments_where(user, lambda a: a.site.kind == SiteKind.CLINICAL)
    ]
    if not sites:
        return ClinicalNotice.objects.none()
    return (
        ClinicalNotice.objects.filter(site_id__in=sites)
        .select_related("batch", "site", "disposition", "disposition__decided_by")
        .order_by("-created_at", "-pk")
    )
