"""qc.selectors.release_testing: each line's status, and a constant number of queries."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.qc.conftest import CRITERIA, Lab
from vein2vein.qc import selectors, services
from vein2vein.qc.models import OosInvestigation, TestResult

GOOD = {
    "APP": {"text": "conforms"},
    "VIAB": {"value": "95"},
    "CAR": {"value": "40"},
    "ENDO": {"value": "0.1"},
    "STER": {"text": "not detected"},
    "VCN": {"value": "1.5"},
}


def _enter(lab: Lab, code: str, **kw: object) -> TestResult:
    if code == "VIAB":
        kw.setdefault("equipment_id", lab.counter.equipment_id)
    if code == "CAR":
        kw.setdefault("equipment_id", lab.cytometer.equipment_id)
    args = {**GOOD[code], **kw}
    return services.enter_result(actor=lab.analyst, sample_id=lab.sample.pk, method=code, **args)  # type: ignore[arg-type]


def _review(lab: Lab, r: TestResult) -> None:
    services.review_result(actor=lab.analyst2, result_id=r.pk, password=PASSWORD)


def _statuses(lab: Lab) -> dict[str, str]:
    return {line.test: line.status for line in selectors.release_testing(lab.batch.pk).lines}


def test_every_test_missing_at_first(lab: Lab) -> None:
    t = selectors.release_testing(lab.batch.pk)
    assert t.specification == "Test release spec v1 (approved)"
    assert [line.status for line in t.lines] == ["missing"] * len(CRITERIA)
    assert t.lines[3].criterion == "≤ 0.5 EU/mL"
    assert not t.complete and not t.all_in_spec
    assert t.lines[0].url == f"/qc/batches/{lab.batch.pk}/"


def test_all_resulted_and_reviewed_in_spec(lab: Lab) -> None:
    for code in GOOD:
        _review(lab, _enter(lab, code))
    t = selectors.release_testing(lab.batch.pk)
    assert t.complete and t.all_in_spec
    endo = t.lines[3]
    assert (endo.test, endo.method_version, endo.result) == ("Endotoxin", "v1", "0.1 EU/mL")
    assert endo.analyst == lab.analyst.printed_name
    assert endo.reviewer == lab.analyst2.printed_name and endo.reviewed_at is not None
    assert t.oos_deviation_ids == ()


def test_statuses_of_review_oos_invalidation_and_retest(lab: Lab) -> None:
    _enter(lab, "VCN")
    bad = _enter(lab, "ENDO", value="0.9")
    s = _statuses(lab)
    assert (s["Vector copy number"], s["Endotoxin"]) == ("awaiting_review", "out_of_spec")
    t = selectors.release_testing(lab.batch.pk)
    assert t.oos_deviation_ids == (OosInvestigation.objects.get(result=bad).deviation_id,)
    # A retest in spec does not replace the out-of-spec original.
    retest = _enter(lab, "ENDO", value="0.1", retest_of_id=bad.pk)
    assert _statuses(lab)["Endotoxin"] == "out_of_spec"
    services.request_invalidation(actor=lab.analyst, result_id=bad.pk, reason="Lab error")
    services.approve_invalidation(actor=lab.qa, result_id=bad.pk, password=PASSWORD)
    assert _statuses(lab)["Endotoxin"] == "awaiting_review"
    _review(lab, retest)
    assert _statuses(lab)["Endotoxin"] == "in_spec"


def test_invalidated_without_a_retest_waits_for_it(lab: Lab) -> None:
    r = _enter(lab, "ENDO")
    services.request_invalidation(actor=lab.analyst, result_id=r.pk, reason="Spilled")
    services.approve_invalidation(actor=lab.qa, result_id=r.pk, password=PASSWORD)
    assert _statuses(lab)["Endotoxin"] == "invalidated_awaiting_retest"


def test_no_approved_specification(lab: Lab) -> None:
    spec = services.create_specification(
        actor=lab.m.w.supervisor,
        product_id=lab.spec.product_id,
        stage="release",
        title="Draft",
        criteria=CRITERIA[:1],
    )
    assert spec.status == "draft"  # a draft does not count
    assert selectors.release_testing(lab.batch.pk).specification is not None
    t = selectors.release_testing(999_999)
    assert (t.specification, t.lines, t.complete) == (None, (), False)


@pytest.mark.parametrize("extra_batches", [0, 1])  # the site books 2 batches a day
def test_a_constant_number_of_queries(
    lab: Lab,
    walk,  # type: ignore[no-untyped-def]
    django_assert_num_queries,  # type: ignore[no-untyped-def]
    extra_batches: int,
) -> None:
    from tests.manufacturing.test_batches import other_order
    from vein2vein.manufacturing import services as mfg

    for _ in range(extra_batches):
        b = mfg.start_batch(actor=lab.m.operator, order_id=other_order(lab.m, walk).pk)
        s = services.register_sample(
            actor=lab.analyst, batch_id=b.pk, purpose="release", volume="5", unit="mL"
        )
        for value in ("0.9", "0.8", "0.7", "0.1"):  # results and OOS investigations
            services.enter_result(actor=lab.analyst, sample_id=s.pk, method="ENDO", value=value)
    for code in GOOD:
        _enter(lab, code)
    _enter(lab, "ENDO", value="0.8")
    with django_assert_num_queries(5):
        t = selectors.release_testing(lab.batch.pk)
    assert len(t.lines) == len(CRITERIA)
