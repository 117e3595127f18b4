"""verify_identity: every form a label's identifiers are scanned or keyed in is accepted, and
every way a scan can fail to prove identity is refused with its own message. Read-only."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chain.conftest import World, unchanged
from vein2vein.chain import services
from vein2vein.chain.models import Collection, TherapyOrder
from vein2vein.chain.services import IdentityRefused, verify_identity
from vein2vein.standards import isbt128

pytestmark = pytest.mark.django_db

DIN, COI, DOB, PID = (
    "DIN",
    "COI identifier",
    "patient date of birth",
    "patient identification number",
)
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*-/"
FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def collected(walk) -> TherapyOrder:  # type: ignore[no-untyped-def]
    return walk("collected")


def _din(o: TherapyOrder) -> isbt128.Din:
    return isbt128.Din.parse(f"={o.collection.din}00")


def _other(world: World, walk, stage: str = "collected") -> TherapyOrder:  # type: ignore[no-untyped-def]
    p = services.enroll_patient(
        actor=world.clinician,
        site_id=world.clinic.pk,
        site_patient_id="P-2",
        given_name="B",
        family_name="C",
        date_of_birth="1960-01-01",
        weight_kg="80",
        diagnosis="CLL",
        consent_status="consented",
        consent_date="2026-01-01",
    )
    return walk(stage, patient=p)


def _wrong(valid: str) -> str:
    return next(ch for ch in "0123456789" if ch != valid)


# --- accepted ------------------------------------------------------------------------------------

FORMS = {
    "DIN barcode": (lambda o, d: d.barcode_text, (DIN,)),
    "DIN barcode with its Type 3 flag": (lambda o, d: f"={d.din}{d.type3_flag}", (DIN,)),
    "DIN barcode with a container flag": (lambda o, d: f"={d.din}02", (DIN,)),
    "DIN keyed with its check character": (lambda o, d: d.din + d.check_character, (DIN,)),
    "DIN keyed as printed": (lambda o, d: f"{d.eye_readable} {d.check_character}", (DIN,)),
    "DIN keyed with flags": (lambda o, d: f"{d.din} 00 {d.check_character}", (DIN,)),
    "DIN keyed in lower case": (lambda o, d: (d.din + d.check_character).lower(), (DIN,)),
    "COI barcode (DS 040)": (lambda o, d: f"&/{o.coi}", (COI,)),
    "plain COI": (lambda o, d: o.coi, (COI,)),
    "plain COI in lower case": (lambda o, d: o.coi.lower(), (COI,)),
    "COI with its check character": (lambda o, d: o.coi + o.coi_check_character, (COI,)),
    "COI as printed": (lambda o, d: f"{o.coi_eye_readable} {o.coi_check_character}", (COI,)),
    "COI followed by Enter": (lambda o, d: f"{o.coi}\r\n", (COI,)),
    "patient date of birth": (lambda o, d: "=#0019710314", (DOB,)),
    "patient identification number": (lambda o, d: "&#0010LUH-000123", (PID,)),
    "compound message": (
        lambda o, d: f"=+04000{d.barcode_text}&/{o.coi}=#0019710314=>026001",
        (DIN, COI, DOB),
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_form_of_a_label_is_accepted(collected: TherapyOrder, form: str) -> None:
    build, matched = FORMS[form]
    scan = build(collected, _din(collected))
    with unchanged():
        match = verify_identity(collected, scan)
        assert verify_identity(Collection.objects.get(order=collected), scan) == match
    assert match.matched == matched
    assert match.summary == " + ".join(matched)
    assert match.scanned == scan.strip()
    assert match.ignored == (("expiration date",) if form == "compound message" else ())


# --- refused --------------------------------------------------------------------------------------


def _refusal(o: TherapyOrder, scan: str) -> IdentityRefused:
    with unchanged(), pytest.raises(IdentityRefused) as caught:
        verify_identity(o, scan)
    return caught.value


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        ("", "empty scan: scan or type the label's barcode"),
        ("  \r\n", "empty scan"),
        (
            "PO-4711",
            "not an ISBT 128 barcode, a COI identifier (CH + 13 characters) or a DIN typed",
        ),
        ("=~1234", "unknown data identifier '=~'"),
        ("&a123", "national or local data identifier '&a' is not supported"),
        ("&/CHB2345", "chain of identity identifier: expected 15 characters after '&/', got 7"),
        ("=+02000=#0019710314", "compound message says 2 structures, found 1"),
        ("=#0019711314", "patient date of birth: date '19711314' is not a valid date"),
        ("=>026001", "the scan carries no DIN, COI identifier or patient identifier (found: exp"),
    ],
)
def test_a_scan_that_is_no_identifier_is_refused_as_such(
    collected: TherapyOrder, scan: str, message: str
) -> None:
    refusal = _refusal(collected, scan)
    assert message in refusal.message
    assert refusal.deviation is False  # a bad scan, not an identity failure


def test_a_wrong_coi_check_character_is_refused(collected: TherapyOrder) -> None:
    o = collected
    wrong = _wrong(o.coi_check_character)
    refusal = _refusal(o, o.coi + wrong)
    assert refusal.message == (
        f"check character {wrong} is wrong for chain of identity identifier {o.coi_eye_readable}"
    )
    assert refusal.deviation is True
    assert o.coi_check_character not in refusal.message.replace(o.coi_eye_readable, "")


def test_a_wrong_din_check_character_is_refused(collected: TherapyOrder) -> None:
    d = _din(collected)
    wrong = _wrong(d.check_character)
    refusal = _refusal(collected, d.din + wrong)
    assert refusal.message == f"check character {wrong} is wrong for DIN {d.eye_readable}"
    assert refusal.deviation is True


def test_a_wrong_type3_flag_is_refused(collected: TherapyOrder) -> None:
    d = _din(collected)
    flag = next(str(f) for f in range(60, 97) if str(f) != d.type3_flag)
    refusal = _refusal(collected, f"={d.din}{flag}")
    assert f"Type 3 flag {flag} does not match DIN {d.din}" in refusal.message
    assert refusal.deviation is True


def test_another_patients_din_is_refused(world: World, walk, collected: TherapyOrder) -> None:  # type: ignore[no-untyped-def]
    theirs = _din(_other(world, walk))
    refusal = _refusal(collected, theirs.barcode_text)
    assert refusal.message == (
        f"DIN {theirs.eye_readable} is not this order's DIN ({_din(collected).eye_readable}): "
        "this is another donation"
    )
    assert refusal.deviation is True
    keyed = _refusal(collected, theirs.din + theirs.check_character)
    assert keyed.message == refusal.message


def test_another_patients_coi_is_refused(world: World, walk, collected: TherapyOrder) -> None:  # type: ignore[no-untyped-def]
    theirs = _other(world, walk, "ordered")
    for scan in (theirs.coi, f"&/{theirs.coi}", theirs.coi + theirs.coi_check_character):
        refusal = _refusal(collected, scan)
        assert refusal.message == (
            f"COI identifier {theirs.coi_eye_readable} is not this order's "
            f"({collected.coi_eye_readable}): this is another patient's material"
        )
        assert refusal.deviation is True


@pytest.mark.parametrize(
    ("scan", "what"),
    [
        ("=#0019710315", "patient date of birth"),
        ("&#0010LUH-000124", "patient identification number"),
    ],
)
def test_another_patients_details_are_refused(collected: TherapyOrder, scan, what) -> None:  # type: ignore[no-untyped-def]
    refusal = _refusal(collected, scan)
    assert refusal.message == f"{what} on the label does not match order {collected.coi}"
    assert refusal.deviation is True


def test_one_wrong_structure_spoils_a_compound_message(world: World, walk, collected) -> None:  # type: ignore[no-untyped-def]
    theirs = _din(_other(world, walk))
    scan = f"=+03000{theirs.barcode_text}&/{collected.coi}=#0019710314"
    refusal = _refusal(collected, scan)
    assert f"DIN {theirs.eye_readable} is not this order's DIN" in refusal.message


def test_a_din_before_any_collection_is_refused(world: World, walk) -> None:  # type: ignore[no-untyped-def]
    o = walk("scheduled")
    d = isbt128.make_din("D4567", 26, 1)
    refusal = _refusal(o, d.barcode_text)
    assert refusal.message == (
        f"DIN {d.eye_readable} scanned, but order {o.coi} has no collection yet"
    )
    assert refusal.deviation is True


# --- any single slip is caught -----------------------------------------------------------------


def _refused(o: TherapyOrder, scan: str) -> bool:
    try:
        verify_identity(o, scan)
    except IdentityRefused:
        return True
    return False


@FAST
@given(data=st.data())
def test_any_single_character_change_of_a_coi_is_refused(collected: TherapyOrder, data) -> None:  # type: ignore[no-untyped-def]
    o = collected
    text = data.draw(
        st.sampled_from([o.coi, o.coi + o.coi_check_character, f"&/{o.coi}"]), label="form"
    )
    first = 2 if text.startswith("&/") else 0
    i = data.draw(st.integers(first, len(text) - 1), label="position")
    ch = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != text[i]), label="char")
    assert _refused(o, text[:i] + ch + text[i + 1 :])


@FAST
@given(data=st.data())
def test_any_single_character_change_of_a_din_is_refused(collected: TherapyOrder, data) -> None:  # type: ignore[no-untyped-def]
    d = _din(collected)
    text, positions = data.draw(
        st.sampled_from(
            [
                (d.din + d.check_character, range(14)),  # keyed: the check character too
                (f"={d.din}00", range(1, 14)),  # barcode: the DIN's 13 characters
                # With its Type 3 flag: the DIN and the flag's last digit (a first digit
                # changed below 6 is another flag, not another donation, so still this DIN).
                (f"={d.din}{d.type3_flag}", [*range(1, 14), 15]),
            ]
        ),
        label="form",
    )
    i = data.draw(st.sampled_from(list(positions)), label="position")
    ch = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != text[i]), label="char")
    assert _refused(collected, text[:i] + ch + text[i + 1 :])


@FAST
@given(data=st.data())
def test_any_adjacent_transposition_is_refused(collected: TherapyOrder, data) -> None:  # type: ignore[no-untyped-def]
    d = _din(collected)
    text = data.draw(
        st.sampled_from([d.din + d.check_character, collected.coi + collected.coi_check_character])
    )
    i = data.draw(
        st.integers(0, len(text) - 2).filter(lambda j: text[j] != text[j + 1]), label="position"
    )
    swapped = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    assert _refused(collected, swapped)


def test_a_keyed_din_of_a_facility_whose_fin_starts_with_ch_is_read_as_a_din() -> None:
    """16 characters starting with CH may be a DIN + flags + check character, not a COI."""
    from vein2vein.chain.services import decode
    from vein2vein.standards import isbt128

    din = isbt128.make_din("CH123", 26, 42, "00")
    keyed = f"{din.din}00{din.check_character}"
    assert decode(keyed) == [din]
    wrong = keyed[:-1] + ("A" if keyed[-1] != "A" else "B")
    with pytest.raises(isbt128.CheckCharacterError):
        decode(wrong)
