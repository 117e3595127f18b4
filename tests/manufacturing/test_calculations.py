"""Dose and MOI calculations match a table of hand-computed cases, the cap included.

Every case evaluates the demo MBR's own calculation steps through `mbr.evaluate`, so a change
to a formula, its decimals or its limits in the shipped file fails here.
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from vein2vein.manufacturing import mbr
from vein2vein.standards.expressions import FormulaError

DEMO = resources.files("vein2vein.manufacturing") / "mbr" / "cd19-cart-lv.yaml"


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    return mbr.load(DEMO.read_text(encoding="utf-8"))


def parameters(definition: dict[str, Any], **overrides: str) -> dict[str, Decimal]:
    values = {
        f"param.{name}": Decimal(parameter["value"])
        for name, parameter in definition["parameters"].items()
    }
    values.update({f"param.{name}": Decimal(value) for name, value in overrides.items()})
    return values


@pytest.mark.parametrize(
    ("weight_kg", "dose"),
    [
        ("70", "70000000"),  # 1.0e6/kg x 70 kg
        ("45.5", "45500000"),
        ("12.3", "12300000"),  # a child
        ("99.9", "99900000"),
        ("100", "100000000"),  # exactly at the 1.0e8 cap
        ("120", "100000000"),  # capped
        ("250", "100000000"),  # capped
        ("33.3333335", "33333334"),  # 33333333.5 rounds half up to a whole cell
        ("33.3333334", "33333333"),
    ],
)
def test_dose_is_weight_based_and_capped(demo: dict[str, Any], weight_kg: str, dose: str) -> None:
    step = mbr.step(demo, "dose_car_cells")
    values = {**parameters(demo), "patient.weight_kg": Decimal(weight_kg)}
    result = mbr.evaluate(step, values)
    assert result == Decimal(dose)
    assert str(result) == dose  # decimals 0: a whole number of cells, no exponent


@pytest.mark.parametrize(
    ("cells", "titer", "moi", "volume_ml", "flag"),
    [
        ("1.0e8", "2.4e8", "5", "2.08", "action"),  # 5e8 TU / 2.4e8 TU/mL = 2.0833
        ("5.0e7", "1.0e8", "5", "2.50", "action"),
        ("4.8e7", "2.4e8", "5", "1.00", ""),  # exactly the thawed 1 mL vial
        ("4.9e7", "2.4e8", "5", "1.02", "action"),
        ("4.0e7", "2.4e8", "5", "0.83", ""),  # 0.8333
        ("3.0e7", "1.9e8", "5", "0.79", ""),  # 0.78947
        ("2.5e7", "1.0e9", "5", "0.13", ""),  # 0.125 rounds half up, not to even
        ("2.0e7", "2.4e8", "10", "0.83", ""),  # MOI 10
        ("1.0e8", "2.4e8", "10", "4.17", "action"),
    ],
)
def test_vector_volume_for_the_target_moi(
    demo: dict[str, Any], cells: str, titer: str, moi: str, volume_ml: str, flag: str
) -> None:
    step = mbr.step(demo, "vector_volume_ml")
    values = {
        **parameters(demo, target_moi=moi),
        "cells_for_transduction": Decimal(cells),
        "vector_thaw.titer_tu_per_ml": Decimal(titer),
    }
    result = mbr.evaluate(step, values)
    assert str(result) == volume_ml
    assert mbr.limit_flag(step, result) == flag


@pytest.mark.parametrize(
    ("viable_cells", "car_percent", "available"),
    [
        ("4.0e9", "26.0", "1040000000"),
        ("1.5e9", "41.9", "628500000"),
        ("3333333333", "33.3", "1110000000"),  # 1109999999.889 rounds up
        ("2.0e8", "20.0", "40000000"),
        ("1.0e9", "0", "0"),
    ],
)
def test_car_cells_available(
    demo: dict[str, Any], viable_cells: str, car_percent: str, available: str
) -> None:
    step = mbr.step(demo, "car_cells_available")
    values = {"harvest_viable_cells": Decimal(viable_cells), "car_percent": Decimal(car_percent)}
    assert str(mbr.evaluate(step, values)) == available


@pytest.mark.parametrize(
    ("dose", "available", "fraction", "flag"),
    [
        ("70000000", "1040000000", "0.067", ""),  # 0.06731
        ("100000000", "628500000", "0.159", ""),
        ("90000000", "100000000", "0.900", ""),  # at the alert limit: within
        ("90100000", "100000000", "0.901", "alert"),
        ("95000000", "100000000", "0.950", "alert"),
        ("100000000", "100000000", "1.000", "alert"),  # at the action limit: within
        ("100000000", "99900000", "1.001", "action"),  # 1.001001: not enough CAR+ cells
        ("100000000", "40000000", "2.500", "action"),
        ("1", "3", "0.333", ""),
        ("2", "3", "0.667", ""),
    ],
)
def test_dose_fraction_flags_a_harvest_too_small_for_the_dose(
    demo: dict[str, Any], dose: str, available: str, fraction: str, flag: str
) -> None:
    step = mbr.step(demo, "dose_fraction")
    values = {"dose_car_cells": Decimal(dose), "car_cells_available": Decimal(available)}
    result = mbr.evaluate(step, values)
    assert str(result) == fraction
    assert mbr.limit_flag(step, result) == flag


@pytest.mark.parametrize(
    ("harvest_ml", "dose", "available", "volume_ml"),
    [
        ("100", "70000000", "1040000000", "6.73"),  # 6.7307
        ("250", "100000000", "628500000", "39.78"),  # 39.777
        ("80", "45500000", "45500000", "80.00"),  # the whole harvest
    ],
)
def test_dose_volume(
    demo: dict[str, Any], harvest_ml: str, dose: str, available: str, volume_ml: str
) -> None:
    step = mbr.step(demo, "dose_volume_ml")
    values = {
        "harvest_volume_ml": Decimal(harvest_ml),
        "dose_car_cells": Decimal(dose),
        "car_cells_available": Decimal(available),
    }
    assert str(mbr.evaluate(step, values)) == volume_ml


def test_cryostor_volume_is_the_fill_volume(demo: dict[str, Any]) -> None:
    assert str(mbr.evaluate(mbr.step(demo, "cryostor_volume_ml"), parameters(demo))) == "50.0"


def test_the_whole_chain_as_the_batch_would_compute_it(demo: dict[str, Any]) -> None:
    """The ARI-0001 lot 01 harvest for a 70 kg patient: gather each step's formula names
    from the entries so far, evaluate, and feed the results forward."""
    entries: dict[str, Decimal] = {
        **parameters(demo),
        "patient.weight_kg": Decimal("70"),
        "harvest_viable_cells": Decimal("5.75e9"),
        "car_percent": Decimal("26.0"),
        "harvest_volume_ml": Decimal("120.0"),
    }
    for key in ("dose_car_cells", "car_cells_available", "dose_fraction", "dose_volume_ml"):
        step = mbr.step(demo, key)
        assert mbr.formula_names(step) <= set(entries), key
        entries[key] = mbr.evaluate(step, entries)
    assert entries["dose_car_cells"] == Decimal("70000000")
    assert entries["car_cells_available"] == Decimal("1495000000")  # ARI-0001/01: 1495 x 10^6
    assert str(entries["dose_fraction"]) == "0.047"
    assert str(entries["dose_volume_ml"]) == "5.62"  # 120 * 7e7 / 1.495e9 = 5.6187


def test_missing_values_and_zero_division_propagate(demo: dict[str, Any]) -> None:
    step = mbr.step(demo, "dose_fraction")
    with pytest.raises(FormulaError, match=r"^unknown name 'car_cells_available' at column 18$"):
        mbr.evaluate(step, {"dose_car_cells": Decimal("1")})
    with pytest.raises(FormulaError, match=r"^division by zero at column 16$"):
        mbr.evaluate(step, {"dose_car_cells": Decimal("1"), "car_cells_available": Decimal(0)})


def test_evaluate_rounds_half_up_to_the_steps_decimals() -> None:
    step = {"kind": "calculation", "key": "x", "formula": "a / 8", "decimals": 2}
    assert str(mbr.evaluate(step, {"a": Decimal("1")})) == "0.13"  # 0.125
    assert str(mbr.evaluate(step, {"a": Decimal("-1")})) == "-0.13"
    assert str(mbr.evaluate(step, {"a": Decimal("-0.01")})) == "0.00"  # no negative zero
    assert str(mbr.evaluate({**step, "decimals": 0}, {"a": Decimal("4")})) == "1"  # 0.5
    with pytest.raises(FormulaError, match="too large to record with 2 decimals"):
        mbr.evaluate(step, {"a": Decimal("8e200")})


@pytest.mark.parametrize(
    ("key", "value", "flag"),
    [
        # harvest viability: alert low 80, action low 70
        ("harvest_viability", "100", ""),
        ("harvest_viability", "80.0", ""),
        ("harvest_viability", "79.9", "alert"),
        ("harvest_viability", "70.0", "alert"),
        ("harvest_viability", "69.9", "action"),
        ("harvest_viability", "0", "action"),
        # CAR+ %: alert low 25, action low 20 (ARI-0001 release >= 20%)
        ("car_percent", "25.0", ""),
        ("car_percent", "24.9", "alert"),
        ("car_percent", "20.0", "alert"),
        ("car_percent", "19.9", "action"),
        # viable cells after enrichment: alert low 1.0e8, action low 5.0e7
        ("viable_cells_day0", "100000000", ""),
        ("viable_cells_day0", "99999999", "alert"),
        ("viable_cells_day0", "50000000", "alert"),
        ("viable_cells_day0", "49999999", "action"),
        # storage temperature: alert high -150, action high -120 (vapor phase <= -120 °C)
        ("storage_temperature", "-196", ""),
        ("storage_temperature", "-150", ""),
        ("storage_temperature", "-149", "alert"),
        ("storage_temperature", "-120", "alert"),
        ("storage_temperature", "-119", "action"),
        # vector volume: action high 1 mL, no alert limit
        ("vector_volume_ml", "0.99", ""),
        ("vector_volume_ml", "1.00", ""),
        ("vector_volume_ml", "1.01", "action"),
        # harvest volume has a plausible range but no limits
        ("harvest_volume_ml", "5000", ""),
    ],
)
def test_limit_flags_at_and_around_each_limit(
    demo: dict[str, Any], key: str, value: str, flag: str
) -> None:
    assert mbr.limit_flag(mbr.step(demo, key), Decimal(value)) == flag
