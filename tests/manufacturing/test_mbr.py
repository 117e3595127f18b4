"""The MBR file format: the demo loads, exports and reloads unchanged; each rule refuses by path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vein2vein.manufacturing import mbr

DEMO = resources.files("vein2vein.manufacturing") / "mbr" / "cd19-cart-lv.yaml"


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    return mbr.load(DEMO.read_text(encoding="utf-8"))


def base() -> dict[str, Any]:
    """A small valid file, as a mapping to mutate: numeric a -> material lot -> calculation
    calc (uses both and a parameter) in one operation, an instruction in a second."""
    return {
        "schema": "vein2vein-mbr/1",
        "product": "CD19-CART",
        "process_version": "1.0",
        "title": "Mini",
        "parameters": {"moi": {"value": 5}},
        "operations": [
            {
                "key": "one",
                "title": "One",
                "steps": [
                    {"key": "a", "kind": "numeric", "title": "A", "unit": "cells"},
                    {
                        "key": "lot",
                        "kind": "material",
                        "title": "Lot",
                        "part": "MAT-0106",
                        "quantity": 1,
                    },
                    {
                        "key": "calc",
                        "kind": "calculation",
                        "title": "Calc",
                        "formula": "a * param.moi / lot.titer",
                        "unit": "mL",
                    },
                ],
            },
            {
                "key": "two",
                "title": "Two",
                "steps": [{"key": "b", "kind": "instruction", "title": "B"}],
            },
        ],
    }


def load_mapping(document: Any) -> dict[str, Any]:
    return mbr.load(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def refusal(document: Any) -> mbr.MbrError:
    with pytest.raises(mbr.MbrError) as caught:
        load_mapping(document)
    return caught.value


def step_of(document: dict[str, Any], operation: int, index: int) -> dict[str, Any]:
    return document["operations"][operation]["steps"][index]  # type: ignore[no-any-return]


# --- the demo ----------------------------------------------------------------------------


def test_the_demo_loads(demo: dict[str, Any]) -> None:
    assert demo["schema"] == mbr.FORMAT
    assert demo["product"] == "CD19-CART"
    assert [operation["key"] for operation in demo["operations"]] == [
        "receipt",
        "selection",
        "activation",
        "transduction",
        "expansion",
        "harvest",
        "formulation",
        "fill",
        "freezing",
        "storage",
    ]
    flat = mbr.steps(demo)
    assert 50 <= len(flat) <= 65
    assert [item["index"] for item in flat] == list(range(len(flat)))
    assert flat[0]["key"] == "coi_receipt"
    assert flat[0]["kind"] == "coi_check"
    assert flat[1]["key"] == "apheresis_viable_cells"
    assert {item["kind"] for item in flat} == set(mbr.STEP_KINDS)
    assert demo["parameters"]["target_dose_car_per_kg"]["value"] == "1000000"
    assert demo["parameters"]["max_dose_car"]["value"] == "100000000"
    assert demo["parameters"]["target_moi"]["value"] == "5"


def test_the_demo_references_real_master_data(demo: dict[str, Any]) -> None:
    references = mbr.references(demo)
    assert references == mbr.References(
        product="CD19-CART",
        parts=frozenset(f"MAT-{number:04d}" for number in range(101, 113)),
        requirements=frozenset(
            {
                *(f"SOP-000{number}" for number in range(1, 7)),
                "ASEPTIC-GOWNING",
                "APS",
                "NC-200",
            }
        ),
        equipment_kinds=frozenset(
            {
                "closed_system",
                "cell_counter",
                "flow_cytometer",
                "centrifuge",
                "tube_sealer",
                "controlled_rate_freezer",
                "ln2_freezer",
            }
        ),
    )


def test_every_transduction_step_requires_the_sop_and_the_aseptic_process_simulation(
    demo: dict[str, Any],
) -> None:
    transduction = [item for item in mbr.steps(demo) if item["operation"] == "transduction"]
    assert [item["key"] for item in transduction] == [
        "activation_time",
        "cells_for_transduction",
        "vector_thaw",
        "vector_volume_ml",
        "transduction_signoff",
    ]
    for item in transduction:
        assert {"SOP-0004", "APS"} <= set(item["requires"]), item["key"]


def test_demo_key_steps(demo: dict[str, Any]) -> None:
    vector = mbr.step(demo, "vector_volume_ml")
    assert vector["formula"] == (
        "cells_for_transduction * param.target_moi / vector_thaw.titer_tu_per_ml"
    )
    assert (vector["decimals"], vector["unit"], vector["verify"]) == (2, "mL", True)
    assert vector["action"] == {"high": "1"}
    assert vector["operation"] == "transduction"
    assert vector["operation_title"] == "Lentiviral transduction (day 1)"
    assert mbr.step(demo, "vector_thaw")["quantity"] == "1"
    assert mbr.step(demo, "vector_thaw")["part"] == "MAT-0106"
    day0 = mbr.step(demo, "viable_cells_day0")
    assert day0["verify"] is True
    assert "cell_counter_day0" in mbr.predecessors(demo, "viable_cells_day0")
    assert mbr.step(demo, "activation_time")["min_minutes"] == 18 * 60
    assert mbr.step(demo, "activation_time")["max_minutes"] == 30 * 60
    appearance = mbr.step(demo, "culture_appearance")
    assert appearance["options"] == ["clear", "turbid", "clumps"]
    assert appearance["in_spec"] == ["clear"]
    viability = mbr.step(demo, "harvest_viability")
    assert viability["alert"] == {"low": "80"}
    assert viability["action"] == {"low": "70"}
    assert viability["range"] == {"low": "0", "high": "100"}
    assert mbr.step(demo, "car_percent")["action"] == {"low": "20"}
    assert mbr.step(demo, "dose_fraction")["action"] == {"high": "1"}
    assert mbr.step(demo, "cryostor")["quantity_from"] == "cryostor_volume_ml"
    signoffs = [item for item in mbr.steps(demo) if item["kind"] == "signoff"]
    assert len(signoffs) == len(demo["operations"])
    assert all(item["verify"] for item in signoffs)


def test_predecessors_follow_parallel_branches(demo: dict[str, Any]) -> None:
    micro = mbr.predecessors(demo, "sample_release_micro")
    assert "fill_product" in micro
    assert "tube_sealing" not in micro
    assert "product_bag_label" not in micro
    fill_signoff = mbr.predecessors(demo, "fill_signoff")
    assert {"product_bag_label", "sample_labels", "tube_sealing", "coi_receipt"} <= fill_signoff
    assert mbr.predecessors(demo, "coi_receipt") == frozenset()
    assert mbr.predecessors(demo, "storage_signoff") == frozenset(
        item["key"] for item in mbr.steps(demo)[:-1]
    )


def test_step_lookup_errors(demo: dict[str, Any]) -> None:
    with pytest.raises(KeyError):
        mbr.step(demo, "nope")
    with pytest.raises(KeyError):
        mbr.predecessors(demo, "nope")


def test_steps_returns_copies(demo: dict[str, Any]) -> None:
    mbr.steps(demo)[0]["title"] = "changed"
    mbr.step(demo, "coi_receipt")["requires"].append("X")
    assert mbr.step(demo, "coi_receipt")["title"] != "changed"
    assert mbr.step(demo, "coi_receipt")["requires"] == ["SOP-0002"]


def test_dump_then_load_gives_the_same_definition(demo: dict[str, Any]) -> None:
    text = mbr.dump(demo)
    again = mbr.load(text)
    assert again == demo
    assert mbr.dump(again) == text
    assert mbr.content_sha256(again) == mbr.content_sha256(demo)
    # readable: numbers unquoted, defaults left out
    assert "value: 1000000\n" in text
    assert "high: 1\n" in text
    section = text.split("key: vector_volume_ml\n")[1].split("- key:")[0]
    assert "verify: true\n" in section
    assert "decimals" not in section  # 2 is the default
    assert "instruction" not in text.split("key: transduction_signoff\n")[1].split("- key:")[0]


def test_dump_orders_keys_whatever_the_stored_order(demo: dict[str, Any]) -> None:
    def reverse(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: reverse(value[key]) for key in reversed(list(value))}
        if isinstance(value, list):
            return [reverse(item) for item in value]
        return value

    assert mbr.dump(reverse(demo)) == mbr.dump(demo)


def test_the_published_schema_is_valid_and_accepts_normalised_definitions(
    demo: dict[str, Any],
) -> None:
    schema = mbr.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema"] == {"const": "vein2vein-mbr/1"}
    assert schema["$defs"]["step"]["properties"]["kind"]["enum"] == list(mbr.STEP_KINDS)
    assert schema["$defs"]["equipment"]["properties"]["equipment_kind"]["enum"] == list(
        mbr.EQUIPMENT_KINDS
    )
    # Without its urn: $id, which jsonschema 4.17 (pinned by allotropy) cannot resolve refs on.
    local = {k: v for k, v in schema.items() if k != "$id"}
    jsonschema.Draft202012Validator(local).validate(demo)
    schema["title"] = "changed"
    assert mbr.schema()["title"] != "changed"


def test_the_normalised_definition_is_json_without_floats(demo: dict[str, Any]) -> None:
    def walk(value: Any) -> None:
        assert not isinstance(value, float | Decimal)
        if isinstance(value, dict):
            for key, item in value.items():
                assert isinstance(key, str)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        else:
            assert value is None or isinstance(value, str | int | bool)

    walk(demo)


def test_content_hash_ignores_layout_and_follows_content() -> None:
    document = base()
    block = mbr.load(yaml.safe_dump(document, default_flow_style=False))
    flow = mbr.load(yaml.safe_dump(document, default_flow_style=True))
    assert block == flow
    assert mbr.content_sha256(block) == mbr.content_sha256(flow)
    assert len(mbr.content_sha256(block)) == 64
    step_of(document, 0, 0)["title"] = "A changed"
    assert mbr.content_sha256(load_mapping(document)) != mbr.content_sha256(block)


# --- defaults and numbers ----------------------------------------------------------------


def test_defaults_are_filled_in() -> None:
    document = base()
    document["operations"][1]["steps"] += [
        {"key": "c", "kind": "choice", "title": "C", "options": ["x", "y"]},
        {"key": "t", "kind": "text", "title": "T"},
        {"key": "l", "kind": "label", "title": "L", "label_kind": "bag"},
        {"key": "s", "kind": "signoff", "title": "S"},
        {"key": "s2", "kind": "signoff", "title": "S2", "verify": False},
    ]
    loaded = load_mapping(document)
    assert loaded["description"] == ""
    a = mbr.step(loaded, "a")
    assert a == {
        "key": "a",
        "kind": "numeric",
        "title": "A",
        "instruction": "",
        "after": [],
        "requires": [],
        "verify": False,
        "unit": "cells",
        "decimals": 2,
        "operation": "one",
        "operation_title": "One",
        "index": 0,
    }
    assert mbr.step(loaded, "lot")["after"] == ["a"]
    assert mbr.step(loaded, "lot")["unit"] == ""
    assert mbr.step(loaded, "b")["after"] == ["calc"]  # across operations
    assert mbr.step(loaded, "c")["in_spec"] == ["x", "y"]
    assert mbr.step(loaded, "t")["max_length"] == 2000
    assert mbr.step(loaded, "l")["copies"] == 1
    assert mbr.step(loaded, "s")["verify"] is True
    assert mbr.step(loaded, "s2")["verify"] is False
    assert loaded["parameters"] == {"moi": {"value": "5", "unit": "", "description": ""}}
    assert "target" not in a and "alert" not in a


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("1.0e6", "1000000"),
        ("1e6", "1000000"),
        ("1.0e+6", "1000000"),
        ("2.4e8", "240000000"),
        ("2.50", "2.5"),
        ("'2.50'", "2.5"),
        ("0.1", "0.1"),
        ("1_000.5", "1000.5"),
        ("-0.0", "0"),
        ("0", "0"),
        ("1.5e-6", "0.0000015"),
        ("-150", "-150"),
        ("12345678901234567890.12345678", "12345678901234567890.12345678"),
    ],
)
def test_numbers_are_canonical_decimal_strings(written: str, canonical: str) -> None:
    text = yaml.safe_dump(base(), sort_keys=False).replace(
        "parameters:\n  moi:\n    value: 5", f"parameters:\n  moi:\n    value: {written}"
    )
    assert f"value: {written}" in text
    assert mbr.load(text)["parameters"]["moi"]["value"] == canonical


def test_bytes_and_a_byte_order_mark_are_accepted() -> None:
    text = yaml.safe_dump(base())
    assert mbr.load(("\ufeff" + text).encode("utf-8")) == mbr.load(text)


# --- refusals ----------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], object]


def _both_quantities(d: dict[str, Any]) -> None:
    step_of(d, 0, 1)["quantity_from"] = "calc"


def _calc_not_predecessor(d: dict[str, Any]) -> None:
    step_of(d, 0, 1)["after"] = []
    step_of(d, 0, 2)["after"] = ["lot"]


def _quantity_from_instruction(d: dict[str, Any]) -> None:
    d["operations"][1]["steps"].append(
        {"key": "m", "kind": "material", "title": "M", "part": "MAT-0109", "quantity_from": "b"}
    )


def _quantity_from_later(d: dict[str, Any]) -> None:
    step_of(d, 0, 1).pop("quantity")
    step_of(d, 0, 1)["quantity_from"] = "calc"


def _timer(**fields: Any) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        step_of(d, 1, 0).update(kind="timer", **fields)

    return mutate


def _update(operation: int, index: int, **fields: Any) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        step_of(d, operation, index).update(fields)

    return mutate


REFUSALS: list[tuple[str, Mutation, str, str]] = [
    (
        "unknown top-level key",
        lambda d: d.update(owner="me"),
        "owner",
        "unknown key 'owner' (allowed: schema, product, process_version, title, description, "
        "parameters, operations)",
    ),
    (
        "unknown step key",
        _update(0, 0, colour="red"),
        "operations[0].steps[0].colour",
        "unknown key 'colour' on a numeric step (allowed: key, kind, title, instruction, after, "
        "requires, verify, unit, decimals, target, alert, action, range)",
    ),
    (
        "field of another kind",
        _update(1, 0, options=["x", "y"]),
        "operations[1].steps[0].options",
        "unknown key 'options' on a instruction step (allowed: key, kind, title, instruction, "
        "after, requires, verify)",
    ),
    (
        "unknown limit key",
        _update(0, 0, alert={"low": 1, "max": 2}),
        "operations[0].steps[0].alert.max",
        "unknown key 'max' (allowed: low, high)",
    ),
    (
        "wrong schema value",
        lambda d: d.update(schema="vein2vein-mbr/2"),
        "schema",
        "'vein2vein-mbr/1' was expected",
    ),
    (
        "bad kind",
        _update(1, 0, kind="weird"),
        "operations[1].steps[0].kind",
        "'weird' is not one of ['instruction', 'numeric', 'choice', 'text', 'calculation', "
        "'material', 'equipment', 'sample', 'coi_check', 'timer', 'label', 'attachment', "
        "'signoff']",
    ),
    (
        "missing required field",
        lambda d: step_of(d, 0, 0).pop("unit"),
        "operations[0].steps[0]",
        "'unit' is a required property",
    ),
    (
        "no operations",
        lambda d: d.update(operations=[]),
        "operations",
        "[] should be non-empty",
    ),
    (
        "upper-case step key",
        _update(0, 0, key="Bad"),
        "operations[0].steps[0].key",
        "'Bad' does not match '^[a-z][a-z0-9_]{0,59}$'",
    ),
    (
        "reserved step key",
        _update(1, 0, key="patient"),
        "operations[1].steps[0].key",
        "lower-case snake case, at most 60 characters; param and patient are reserved for "
        "formula names",
    ),
    (
        "title too long",
        _update(1, 0, title="x" * 201),
        "operations[1].steps[0].title",
        f"'{'x' * 201}' is too long",
    ),
    (
        "string where a bool is due",
        _update(0, 0, verify="yes"),
        "operations[0].steps[0].verify",
        "'yes' is not of type 'boolean'",
    ),
    (
        "decimals above 6",
        _update(0, 0, decimals=7),
        "operations[0].steps[0].decimals",
        "7 is greater than the maximum of 6",
    ),
    (
        "bool as a number",
        _update(0, 0, target=True),
        "operations[0].steps[0].target",
        "True is not of type 'number', 'string'",
    ),
    (
        "text as a number",
        _update(0, 0, target="ten"),
        "operations[0].steps[0].target",
        "'ten' does not match '^[+-]?([0-9]+(\\\\.[0-9]*)?|\\\\.[0-9]+)([eE][+-]?[0-9]+)?$'",
    ),
    (
        "NaN",
        _update(0, 0, target=float("nan")),
        "operations[0].steps[0].target",
        "nan is not a finite number",
    ),
    (
        "infinity",
        lambda d: d["parameters"]["moi"].update(value=float("inf")),
        "parameters.moi.value",
        "inf is not a finite number",
    ),
    (
        "absurd magnitude",
        _update(0, 0, target="1e40"),
        "operations[0].steps[0].target",
        "1e40 is out of range (1e-30 to 1e30 in size)",
    ),
    (
        "too many digits",
        _update(0, 0, target="1.23456789012345678901234567890"),
        "operations[0].steps[0].target",
        "1.23456789012345678901234567890 has more than 28 significant digits",
    ),
    (
        "duplicate step key in another operation",
        _update(1, 0, key="a"),
        "operations[1].steps[0].key",
        "duplicate step key 'a' (also operations[0].steps[0])",
    ),
    (
        "duplicate operation key",
        lambda d: d["operations"][1].update(key="one"),
        "operations[1].key",
        "duplicate operation key 'one' (also operations[0])",
    ),
    (
        "after names a later step",
        _update(0, 0, after=["b"]),
        "operations[0].steps[0].after[0]",
        "'b' is a later step; only earlier steps can come before",
    ),
    (
        "after names the step itself",
        _update(0, 1, after=["a", "lot"]),
        "operations[0].steps[1].after[1]",
        "'lot' is this step itself",
    ),
    (
        "after names an unknown step",
        _update(0, 1, after=["zzz"]),
        "operations[0].steps[1].after[0]",
        "unknown step 'zzz'",
    ),
    (
        "after repeats a step",
        _update(0, 2, after=["a", "a"]),
        "operations[0].steps[2].after",
        "['a', 'a'] has non-unique elements",
    ),
    (
        "formula with an unknown name",
        _update(0, 2, formula="a * volume"),
        "operations[0].steps[2].formula",
        "'volume' at column 5: unknown step 'volume'",
    ),
    (
        "formula with an unknown parameter",
        _update(0, 2, formula="a * param.nope"),
        "operations[0].steps[2].formula",
        "'param.nope' at column 5: unknown parameter: define it under `parameters`",
    ),
    (
        "formula with an unknown patient value",
        _update(0, 2, formula="a * patient.height_cm"),
        "operations[0].steps[2].formula",
        "'patient.height_cm' at column 5: unknown patient value (known: weight_kg)",
    ),
    (
        "formula naming a non-predecessor",
        _calc_not_predecessor,
        "operations[0].steps[2].formula",
        "'a' at column 1: step 'a' is not a predecessor of 'calc': add it to `after`",
    ),
    (
        "formula naming a later step",
        _update(0, 2, formula="a + b"),
        "operations[0].steps[2].formula",
        "'b' at column 5: step 'b' is not a predecessor of 'calc': add it to `after`",
    ),
    (
        "formula naming itself",
        _update(0, 2, formula="calc + 1"),
        "operations[0].steps[2].formula",
        "'calc' at column 1: a calculation cannot use its own value",
    ),
    (
        "formula naming a step without a value",
        _update(0, 2, formula="a + lot"),
        "operations[0].steps[2].formula",
        "'lot' at column 5: 'lot' is a material step; only numeric and calculation steps "
        "have a value",
    ),
    (
        "formula reading a lot attribute of a non-material step",
        _update(0, 2, formula="a.titer"),
        "operations[0].steps[2].formula",
        "'a.titer' at column 1: 'a' is a numeric step; lot attributes come from material steps",
    ),
    (
        "formula attribute chain",
        _update(0, 2, formula="a + lot.x.y"),
        "operations[0].steps[2].formula",
        "'lot.x.y' at column 5: names are param.<name>, patient.weight_kg, <step> or "
        "<material step>.<lot>",
    ),
    (
        "formula syntax error",
        _update(0, 2, formula="a * (param.moi + 1"),
        "operations[0].steps[2].formula",
        "unexpected end of formula at column 19: expected ')' to close the '(' at column 5",
    ),
    (
        "formula with python",
        _update(0, 2, formula="__import__('os')"),
        "operations[0].steps[2].formula",
        'unexpected character "\'" at column 12',
    ),
    (
        "quantity and quantity_from both",
        _both_quantities,
        "operations[0].steps[1]",
        "give exactly one of quantity or quantity_from",
    ),
    (
        "neither quantity nor quantity_from",
        lambda d: step_of(d, 0, 1).pop("quantity"),
        "operations[0].steps[1]",
        "give exactly one of quantity or quantity_from",
    ),
    (
        "quantity zero",
        _update(0, 1, quantity=0),
        "operations[0].steps[1].quantity",
        "0 is less than or equal to the minimum of 0",
    ),
    (
        "quantity negative as text",
        _update(0, 1, quantity="-1.5"),
        "operations[0].steps[1].quantity",
        "-1.5 must be greater than 0",
    ),
    (
        "quantity_from a later step",
        _quantity_from_later,
        "operations[0].steps[1].quantity_from",
        "'calc' is a later step; only earlier steps can come before",
    ),
    (
        "quantity_from a step that is not a calculation",
        _quantity_from_instruction,
        "operations[1].steps[1].quantity_from",
        "step 'b' is a instruction step, not a calculation",
    ),
    (
        "alert low not below alert high",
        _update(0, 0, alert={"low": 10, "high": 10}),
        "operations[0].steps[0].alert.high",
        "high 10 must be above low 10",
    ),
    (
        "empty limits",
        _update(0, 0, alert={}),
        "operations[0].steps[0].alert",
        "{} should be non-empty",
    ),
    (
        "action low inside alert low",
        _update(0, 0, alert={"low": 10}, action={"low": 20}),
        "operations[0].steps[0].action.low",
        "action low 20 is above alert low 10: action limits must be at least as wide as "
        "alert limits",
    ),
    (
        "action high inside alert high",
        _update(0, 0, alert={"high": 90}, action={"high": 80.5}),
        "operations[0].steps[0].action.high",
        "action high 80.5 is below alert high 90: action limits must be at least as wide as "
        "alert limits",
    ),
    (
        "range inside action",
        _update(0, 0, range={"low": 0, "high": 100}, action={"low": -1}),
        "operations[0].steps[0].range.low",
        "range low 0 is above action low -1: range limits must be at least as wide as "
        "action limits",
    ),
    (
        "range inside alert",
        _update(0, 0, range={"low": 0, "high": 100}, alert={"high": 101}),
        "operations[0].steps[0].range.high",
        "range high 100 is below alert high 101: range limits must be at least as wide as "
        "alert limits",
    ),
    (
        "a low limit above a high limit of another pair",
        _update(0, 0, alert={"low": 80}, action={"high": 5}),
        "operations[0].steps[0].action.high",
        "action high 5 must be above alert low 80",
    ),
    (
        "target outside the limits",
        _update(0, 0, target=5, alert={"low": 10}),
        "operations[0].steps[0].target",
        "target 5 is outside alert",
    ),
    (
        "calculation limits not nested",
        _update(0, 2, alert={"high": 2}, action={"high": 1}),
        "operations[0].steps[2].action.high",
        "action high 1 is below alert high 2: action limits must be at least as wide as "
        "alert limits",
    ),
    (
        "choice with one option",
        _update(1, 0, kind="choice", options=["x"]),
        "operations[1].steps[0].options",
        "['x'] is too short",
    ),
    (
        "choice in_spec not a subset",
        _update(1, 0, kind="choice", options=["clear", "turbid"], in_spec=["clear", "cloudy"]),
        "operations[1].steps[0].in_spec[1]",
        "'cloudy' is not one of the options",
    ),
    (
        "timer from an unknown step",
        _timer(from_step="zz", min_minutes=1),
        "operations[1].steps[0].from_step",
        "unknown step 'zz'",
    ),
    (
        "timer from a step that is not a predecessor",
        lambda d: (
            step_of(d, 1, 0).update(after=["a"]),
            _timer(from_step="lot", max_minutes=60)(d),
        ),
        "operations[1].steps[0].from_step",
        "step 'lot' is not a predecessor of 'b': add it (or a step after it) to `after`",
    ),
    (
        "timer without bounds",
        _timer(from_step="a"),
        "operations[1].steps[0]",
        "give min_minutes, max_minutes or both",
    ),
    (
        "timer min not below max",
        _timer(from_step="a", min_minutes=60, max_minutes=60),
        "operations[1].steps[0].max_minutes",
        "max_minutes 60 must be above min_minutes 60",
    ),
    (
        "timer with negative minutes",
        _timer(from_step="a", min_minutes=-1),
        "operations[1].steps[0].min_minutes",
        "-1 is less than the minimum of 0",
    ),
    (
        "unknown equipment kind",
        _update(1, 0, kind="equipment", equipment_kind="toaster"),
        "operations[1].steps[0].equipment_kind",
        "'toaster' is not one of ['biosafety_cabinet', 'incubator', 'centrifuge', "
        "'closed_system', 'cell_counter', 'flow_cytometer', 'controlled_rate_freezer', "
        "'ln2_freezer', 'cell_washer', 'tube_sealer', 'isolator']",
    ),
    (
        "label copies above 20",
        _update(1, 0, kind="label", label_kind="bag", copies=21),
        "operations[1].steps[0].copies",
        "21 is greater than the maximum of 20",
    ),
    (
        "sample without tests",
        _update(1, 0, kind="sample", sample_type="release", tests=[], quantity=1, unit="mL"),
        "operations[1].steps[0].tests",
        "[] should be non-empty",
    ),
    (
        "bad parameter name",
        lambda d: d["parameters"].update(Moi={"value": 1}),
        "parameters",
        "'Moi' does not match '^[a-z][a-z0-9_]{0,59}$'",
    ),
    (
        "process version as a number",
        lambda d: d.update(process_version=1.0),
        "process_version",
        "1.0 is not of type 'string'",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [pytest.param(mutate, path, message, id=name) for name, mutate, path, message in REFUSALS],
)
def test_refusals_name_the_path(mutate: Mutation, path: str, message: str) -> None:
    document = base()
    load_mapping(document)  # the base is valid
    mutate(document)
    error = refusal(document)
    assert (error.path, error.message) == (path, message)
    assert str(error) == f"{path}: {message}"
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "the file must be a YAML mapping, got a list"),
        ("just text\n", "the file must be a YAML mapping, got a str"),
        ("", "the file must be a YAML mapping, got an empty file"),
        ("a: [1\n", "not valid YAML: expected ',' or ']', but got '<stream end>'"),
        ("a: 1\nb: 2\na: 3\n", "line 3: duplicate key 'a' in a mapping"),
        (
            "a: &x [1]\nb: *x\n",
            "line 2: YAML aliases (*name) are not allowed; write the value out",
        ),
        ("a: !!python/object:os.system x\n", "not valid YAML: could not determine a constructor"),
        ("1: x\n", "key 1 is not text"),
        ("a: .nan\n", "a: nan is not a finite number"),
    ],
)
def test_files_that_are_not_an_mbr_mapping(text: str, message: str) -> None:
    with pytest.raises(mbr.MbrError) as caught:
        mbr.load(text)
    assert str(caught.value).startswith(message)


def test_a_duplicate_key_inside_a_step_is_refused() -> None:
    text = yaml.safe_dump(base(), sort_keys=False).replace(
        "    title: B\n", "    title: B\n    title: C\n"
    )
    with pytest.raises(mbr.MbrError, match=r"^line \d+: duplicate key 'title' in a mapping$"):
        mbr.load(text)


def test_too_big() -> None:
    padding = "# " + "x" * mbr.MAX_BYTES + "\n"
    text = yaml.safe_dump(base()) + padding
    with pytest.raises(mbr.MbrError) as caught:
        mbr.load(text)
    assert caught.value.path == ""
    assert caught.value.message == f"the file is {len(text)} bytes; the limit is 1000000"
    with pytest.raises(mbr.MbrError, match="the limit is 1000000"):
        mbr.load(text.encode("utf-8"))


def test_not_utf8() -> None:
    with pytest.raises(mbr.MbrError) as caught:
        mbr.load(b"title: caf\xe9\n")
    assert str(caught.value) == "the file is not UTF-8 text (byte 11)"


def test_aliases_cannot_expand() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}, *a{n - 1}]" for n in range(1, 30)]
    with pytest.raises(mbr.MbrError, match="aliases"):
        mbr.load("\n".join(lines))


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(mbr.MbrError, match=r"nested deeper than 32 levels|nests too deeply"):
        mbr.load("a: " + "[" * 40 + "]" * 40)


# --- runtime helpers ---------------------------------------------------------------------


def test_formula_names(demo: dict[str, Any]) -> None:
    assert mbr.formula_names(mbr.step(demo, "vector_volume_ml")) == frozenset(
        {"cells_for_transduction", "param.target_moi", "vector_thaw.titer_tu_per_ml"}
    )
    assert mbr.formula_names(mbr.step(demo, "dose_car_cells")) == frozenset(
        {"param.target_dose_car_per_kg", "patient.weight_kg", "param.max_dose_car"}
    )
    assert mbr.formula_names(mbr.step(demo, "coi_receipt")) == frozenset()


def test_evaluate_refuses_other_kinds(demo: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"^step 'coi_receipt' is not a calculation$"):
        mbr.evaluate(mbr.step(demo, "coi_receipt"), {})


def test_out_of_range_messages(demo: dict[str, Any]) -> None:
    viability = mbr.step(demo, "harvest_viability")
    assert mbr.out_of_range(viability, Decimal("100")) is None
    assert mbr.out_of_range(viability, Decimal("0")) is None
    assert mbr.out_of_range(viability, Decimal("100.1")) == (
        "100.1 % is outside the plausible range (from 0 to 100 %): check for a typo"
    )
    assert mbr.out_of_range(viability, Decimal("-1")) == (
        "-1 % is outside the plausible range (from 0 to 100 %): check for a typo"
    )
    volume = mbr.step(demo, "harvest_volume_ml")
    assert mbr.out_of_range(volume, Decimal("1001")) == (
        "1001 mL is outside the plausible range (from 1 to 1000 mL): check for a typo"
    )
    assert mbr.out_of_range(mbr.step(demo, "vector_volume_ml"), Decimal("99")) is None
    one_sided = {"kind": "numeric", "unit": "", "range": {"low": "5"}}
    assert mbr.out_of_range(one_sided, Decimal("4")) == (
        "4 is outside the plausible range (at least 5): check for a typo"
    )
    assert mbr.out_of_range(one_sided, Decimal("1e9")) is None


def test_limit_flag_without_limits_is_empty() -> None:
    assert mbr.limit_flag({"kind": "numeric", "unit": "mL"}, Decimal("-1e9")) == ""


# --- property: any valid mini-MBR survives export --------------------------------------

_bound = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, places=3)
_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
    min_size=1,
    max_size=30,
).filter(lambda text: text.strip() == text and text != "")


@st.composite
def _numeric_step(draw: st.DrawFn, key: str) -> dict[str, Any]:
    """A numeric step whose limits nest: seven ordered values give range, action, alert and
    target, each bound kept or dropped at random."""
    values = sorted(draw(st.lists(_bound, min_size=7, max_size=7, unique=True)))
    r_low, a_low, al_low, target, al_high, a_high, r_high = values
    step: dict[str, Any] = {
        "key": key,
        "kind": "numeric",
        "title": draw(_text),
        "unit": draw(_text),
        "decimals": draw(st.integers(0, 6)),
    }

    def written(value: Decimal) -> Any:
        """The same number as YAML text, in exponent notation, or as a YAML int."""
        form = draw(st.sampled_from(["text", "exponent", "int"]))
        if form == "exponent":
            return format(value, "E")
        if form == "int" and value == value.to_integral_value():
            return int(value)
        return str(value)

    for name, low, high in (
        ("alert", al_low, al_high),
        ("action", a_low, a_high),
        ("range", r_low, r_high),
    ):
        pair = {}
        if draw(st.booleans()):
            pair["low"] = written(low)
        if draw(st.booleans()):
            pair["high"] = written(high)
        if pair:
            step[name] = pair
    if draw(st.booleans()):
        step["target"] = written(target)
    if draw(st.booleans()):
        step["verify"] = True
    if draw(st.booleans()):
        step["instruction"] = draw(st.text(max_size=80))
    return step


@st.composite
def _mini_mbr(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 5))
    keys = [f"n{index}" for index in range(count)]
    numeric = [draw(_numeric_step(key)) for key in keys]
    for index, step in enumerate(numeric):
        if index and draw(st.booleans()):
            step["after"] = draw(
                st.lists(st.sampled_from(keys[:index]), min_size=0, max_size=index, unique=True)
            )
    last = numeric[-1]["key"]
    reachable = {last} | set(numeric[-1].get("after", []))
    calc = {
        "key": "total",
        "kind": "calculation",
        "title": "Total",
        "formula": " + ".join(sorted(reachable)),
        "unit": "cells",
        "after": sorted(reachable),
        "decimals": draw(st.integers(0, 6)),
    }
    split = draw(st.integers(1, count))
    return {
        "schema": "vein2vein-mbr/1",
        "product": "CD19-CART",
        "process_version": draw(st.sampled_from(["1", "1.0", "2.3-rc1"])),
        "title": draw(_text),
        "description": draw(st.text(max_size=200)),
        "parameters": {"p": {"value": str(draw(_bound)), "unit": draw(_text)}},
        "operations": [
            {"key": "first", "title": "First", "steps": numeric[:split]},
            {"key": "second", "title": "Second", "steps": [*numeric[split:], calc]},
        ],
    }


@settings(max_examples=60, deadline=None)
@given(document=_mini_mbr())
def test_any_valid_mini_mbr_round_trips(document: dict[str, Any]) -> None:
    loaded = load_mapping(copy.deepcopy(document))
    text = mbr.dump(loaded)
    assert mbr.load(text) == loaded
    assert mbr.dump(mbr.load(text)) == text
    for step in mbr.steps(loaded):
        for name in ("alert", "action", "range"):
            for bound in step.get(name, {}).values():
                assert Decimal(bound) == Decimal(str(bound))
                assert "E" not in bound and "e" not in bound
