"""Release readiness: each checklist item refuses on its own; the query count is constant."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.release.conftest import Line, another_patient, completed, release, reviewed
from vein2vein.quality import services as quality
from vein2vein.release import selectors

pytestmark = pytest.mark.django_db


def test_a_reviewed_batch_with_every_test_in_spec_is_ready(ready_batch) -> None:
    r = selectors.readiness(ready_batch.pk)
    assert r.ready, r.missing
    states = {i.key: i.state for i in r.items}
    assert states == {
        "batch_record": "ok",
        "release_testing": "ok",
        "deviations": "ok",
        "coi": "ok",
        "labels": "not_applicable",
        "storage": "not_applicable",
    }
    # Not green-faked: labeling and storage say they are not checked yet.
    assert "until labeling lands" in r.item("labels").detail
    assert "until storage lands" in r.item("storage").detail


def test_a_batch_not_reviewed_is_not_ready(mfg, received, qc_state) -> None:
    b = completed(mfg, received())
    r = selectors.readiness(b.pk)
    assert not r.ready
    assert [i.key for i in r.missing] == ["batch_record"]
    assert "has not signed its review" in r.item("batch_record").detail
    assert r.item("batch_record").url.endswith(f"/batches/{b.pk}/review/")


def test_a_review_signature_no_longer_valid_is_not_ready(ready_batch, qc_state) -> None:
    from vein2vein.manufacturing.models import StepEntry

    # Tampering behind the services: the signed content no longer matches.
    StepEntry.objects.filter(batch=ready_batch, step_key="branch_a").update(value_text="edited")
    r = selectors.readiness(ready_batch.pk)
    assert [i.key for i in r.missing] == ["batch_record"]
    assert "no longer valid" in r.item("batch_record").detail


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ("missing", "no result"),
        ("awaiting_review", "awaiting second-analyst review"),
        ("out_of_spec", "out of specification"),
        ("invalidated_awaiting_retest", "invalidated, awaiting retest"),
    ],
)
def test_each_release_test_not_resulted_reviewed_and_in_spec_is_not_ready(
    ready_batch, qc_state, status, says
) -> None:
    qc_state.lines[1] = Line(
        "Viability", "QCM-VIA v2", ">= 70 %", "61 %", status, url="/qc/results/9/"
    )
    r = selectors.readiness(ready_batch.pk)
    assert [i.key for i in r.missing] == ["release_testing"]
    item = r.item("release_testing")
    assert "Viability: " in item.detail and says in item.detail
    assert item.url == "/qc/results/9/"
    assert r.out_of_spec_only == (status == "out_of_spec")


def test_no_specification_is_not_ready(ready_batch, qc_state) -> None:
    qc_state.specification = None
    r = selectors.readiness(ready_batch.pk)
    assert [i.key for i in r.missing] == ["release_testing"]
    assert "no approved release specification" in r.item("release_testing").detail


def test_an_open_deviation_without_impact_assessment_is_not_ready(
    mfg, ready_batch, qc_state
) -> None:
    dev = quality.raise_deviation(
        source=ready_batch,
        category="process",
        title="Bag seam leak found at inspection",
        description="A drop at the seam",
        actor=mfg.operator,
        site=ready_batch.site,
    )
    r = selectors.readiness(ready_batch.pk)
    assert [i.key for i in r.missing] == ["deviations"]
    assert dev.number in r.item("deviations").detail
    assert r.item("deviations").url.endswith(f"/deviations/{dev.pk}/")
    # Assessed for product impact: no longer blocking (it stays open).
    from vein2vein.quality.models import Deviation

    Deviation.objects.filter(pk=dev.pk).update(impact_product="None: the bag was replaced")
    assert selectors.readiness(ready_batch.pk).ready


def test_a_qc_oos_investigation_counts_as_the_batch_deviation(mfg, ready_batch, qc_state) -> None:
    dev = quality.raise_deviation(
        source=mfg.w.mfg,
        category="oos",
        title="OOS endotoxin",
        description="2.1 EU/mL",
        actor=mfg.w.qc,
        site=ready_batch.site,
    )
    qc_state.oos_deviation_ids = (dev.pk,)
    r = selectors.readiness(ready_batch.pk)
    assert [i.key for i in r.missing] == ["deviations"]


def test_a_batch_without_its_coi_check_done_is_not_ready(mfg, received, qc_state) -> None:
    from vein2vein.manufacturing.models import StepEntry

    b = reviewed(mfg, received())
    StepEntry.objects.filter(batch=b, step_key="coi_in").update(status="awaiting_verification")
    r = selectors.readiness(b.pk)
    assert "coi" in [i.key for i in r.missing]
    assert "coi_in" in r.item("coi").detail


def test_readiness_query_count_is_the_same_for_one_and_several_batches(
    mfg, received, walk, qc_state
) -> None:
    first = reviewed(mfg, received())
    with CaptureQueriesContext(connection) as one:
        selectors.readiness(first.pk)
    # The day's two collection slots: a second batch, released, with its disposition rows.
    second = reviewed(mfg, walk("received", patient=another_patient(mfg, 1)))
    release(mfg, second)
    with CaptureQueriesContext(connection) as several:
        r = selectors.readiness(first.pk)
    assert r.ready
    assert len(one) == len(several), [q["sql"] for q in several.captured_queries]
    assert len(one) <= 6


def test_the_command_prints_readiness_as_json(ready_batch, capsys) -> None:
    call_command("release", "readiness", ready_batch.number)
    out = json.loads(capsys.readouterr().out)
    assert out["batch"] == ready_batch.number
    assert out["ready"] is True
    assert [i["key"] for i in out["items"]][:4] == [
        "batch_record",
        "release_testing",
        "deviations",
        "coi",
    ]
