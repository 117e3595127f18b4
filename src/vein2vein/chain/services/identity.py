"""Identity checks: does what was scanned belong to this patient's order?

`verify_identity(item, scanned_text)` accepts any ISBT 128 barcode text (with its data
identifier: a DIN, a COI identifier (DS 040), a patient date of birth or identification
number, or a compound message holding several), a plain COI identifier (with or without its
check character) and a DIN keyed from the eye-readable label with its check character.
It refuses, each with its own message, a malformed code, a wrong check character and an
identifier that belongs to someone else.

The services turn a refusal into a recorded one: `refuse_identity` appends the blocked
attempt to the audit trail and, for a mismatch or a wrong check character (not for a scan
that is simply not an identifier), raises an identity deviation at the manufacturing site,
in one transaction that commits before the refusal is raised.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import NoReturn

from django.db import transaction

from vein2vein.core import audit
from vein2vein.core.errors import InterlockBlocked, ValidationFailed
from vein2vein.core.models import Site, User
from vein2vein.quality.choices import DeviationCategory
from vein2vein.quality.services import raise_deviation
from vein2vein.standards import isbt128

from ..models import Collection, TherapyOrder

DIN = "DIN"
COI = "COI identifier"
DOB = "patient date of birth"
PATIENT_ID = "patient identification number"
# What a bag label must prove at receipt (issue 5): all three, each matching.
BAG_LABEL_IDENTIFIERS = (DIN, COI, DOB)


class IdentityRefused(Exception):
    """A scan that does not prove the item's identity. `deviation` says whether it is an
    identity failure (wrong check character, someone else's identifier) rather than a scan
    that is not an identifier at all."""

    def __init__(self, message: str, *, deviation: bool) -> None:
        super().__init__(message)
        self.message = message
        self.deviation = deviation


@dataclass(frozen=True)
class IdentityMatch:
    """What a scan proved: the identifiers it carried that match, e.g. ("DIN", "COI ...")."""

    scanned: str
    matched: tuple[str, ...]
    ignored: tuple[str, ...] = field(default=())

    @property
    def summary(self) -> str:
        return " + ".join(self.matched)


_DOB_SCAN = re.compile(r"=#(\w{2})\d{8}")
_PATIENT_ID_SCAN = re.compile(r"&#(\w{2})(\d{2})")


def mask_personal(scanned: str) -> str:
    """A scan as it is kept and shown: a patient's date of birth (DS 024) or identification
    number (DS 025) is replaced by asterisks. The check itself used the real values; what is
    stored says that they were scanned and matched, without spreading personal data to every
    reader of the custody chain, the audit trail and deviations."""
    out = _DOB_SCAN.sub(lambda m: f"=#{m.group(1)}********", scanned)
    pos = 0
    while (m := _PATIENT_ID_SCAN.search(out, pos)) is not None:
        length = int(m.group(2))
        start = m.end()
        out = out[:start] + "*" * min(length, len(out) - start) + out[start + length :]
        pos = start + length
    return out


def _order_of(item: TherapyOrder | Collection) -> TherapyOrder:
    return item.order if isinstance(item, Collection) else item


def _is_check_error(exc: ValueError) -> bool:
    return isinstance(exc, isbt128.CheckCharacterError)


def decode(scanned_text: str) -> list[isbt128.Structure]:
    """The structures a scan carries. ValueError (with what is wrong) for anything else."""
    text = scanned_text.strip() if isinstance(scanned_text, str) else ""
    if not text:
        raise ValueError("empty scan: scan or type the label's barcode")
    if text[0] in "=&":
        found = isbt128.parse(text)
        if isinstance(found, isbt128.CompoundMessage):
            return list(found.structures)
        return [found]
    compact = "".join(text.split()).upper()
    if compact.startswith("CH") and len(compact) in (15, 16):
        try:
            return [isbt128.parse_coi(compact)]
        except ValueError as exc:
            if _is_check_error(exc) and len(compact) == 15:
                raise
            if _is_check_error(exc):
                # A FIN starting with CH makes DIN + flags + check character look like a
                # COI identifier + check character: a DIN that checks out is one.
                try:
                    return [isbt128.parse_keyed_din(compact)]
                except ValueError:
                    raise exc from None
            # not a COI identifier: read it as a keyed DIN below
    if len(compact) in (14, 16):
        return [isbt128.parse_keyed_din(compact)]
    raise ValueError(
        "not an ISBT 128 barcode, a COI identifier (CH + 13 characters) or a DIN typed with "
        f"its check character ({len(compact)} characters scanned)"
    )


def verify_identity(item: TherapyOrder | Collection, scanned_text: str) -> IdentityMatch:
    """Check a scan against an order (or its collection). Raises IdentityRefused."""
    o = _order_of(item)
    try:
        structures = decode(scanned_text)
    except ValueError as exc:
        raise IdentityRefused(str(exc), deviation=_is_check_error(exc)) from None
    collection = Collection.objects.filter(order=o).first()
    matched: list[str] = []
    ignored: list[str] = []
    for s in structures:
        if isinstance(s, isbt128.Din):
            if collection is None:
                raise IdentityRefused(
                    f"DIN {s.eye_readable} scanned, but order {o.coi} has no collection yet",
                    deviation=True,
                )
            if s.din != collection.din:
                raise IdentityRefused(
                    f"DIN {s.eye_readable} is not this order's DIN "
                    f"({collection.din_eye_readable}): this is another donation",
                    deviation=True,
                )
            matched.append(DIN)
        elif isinstance(s, isbt128.ChainOfIdentityIdentifier):
            if s.text != o.coi:
                raise IdentityRefused(
                    f"COI identifier {s.eye_readable} is not this order's "
                    f"({o.coi_eye_readable}): this is another patient's material",
                    deviation=True,
                )
            matched.append(COI)
        elif isinstance(s, isbt128.PatientDateOfBirth):
            if s.date != o.patient.date_of_birth:
                raise IdentityRefused(
                    f"patient date of birth on the label does not match order {o.coi}",
                    deviation=True,
                )
            matched.append(DOB)
        elif isinstance(s, isbt128.PatientIdentificationNumber):
            if s.value != o.patient.site_patient_id:
                raise IdentityRefused(
                    f"patient identification number on the label does not match order {o.coi}",
                    deviation=True,
                )
            matched.append(PATIENT_ID)
        else:
            ignored.append(s.NAME)
    if not matched:
        what = ", ".join(ignored) or "nothing"
        raise IdentityRefused(
            f"the scan carries no DIN, COI identifier or patient identifier (found: {what})",
            deviation=False,
        )
    return IdentityMatch(scanned_text.strip(), tuple(dict.fromkeys(matched)), tuple(ignored))


def verify_bag_label(o: TherapyOrder, scans: list[str]) -> list[IdentityMatch]:
    """Every scan matches, and together they prove DIN, COI identifier and date of birth."""
    results = [verify_identity(o, s) for s in scans]
    proved = {m for r in results for m in r.matched}
    missing = [k for k in BAG_LABEL_IDENTIFIERS if k not in proved]
    if missing:
        raise ValidationFailed(
            f"scan the bag label's {', '.join(missing)} too: receipt needs the DIN, the COI "
            "identifier and the patient's date of birth",
            field="scans",
        )
    return results


def refuse_identity(
    *,
    actor: User,
    o: TherapyOrder,
    action: str,
    at_site: Site,
    scanned: list[str],
    refusal: IdentityRefused,
    field: str,
    detected_at: dt.datetime | None = None,
) -> NoReturn:
    """Record a refused identity check (and raise its deviation), then raise the refusal.

    Must run outside any transaction: the record of the refusal commits on its own, so it
    is not rolled back with the caller's work.
    """
    number = ""
    scanned = [mask_personal(s) for s in scanned]
    with transaction.atomic():
        audit.append_event(
            actor=actor,
            action=f"{action}.blocked",
            record=o,
            changes={
                "blocked": {"old": None, "new": refusal.message},
                "scanned": {"old": None, "new": scanned},
                "site": {"old": None, "new": at_site.code},
            },
            reason=refusal.message,
        )
        if refusal.deviation:
            dev = raise_deviation(
                source=o,
                category=DeviationCategory.IDENTITY,
                title=f"Chain of identity: scan refused for {o.coi}",
                description=(
                    f"{actor.printed_name} ({actor.get_username()}) at {at_site.code} scanned "
                    f"{', '.join(repr(s) for s in scanned)} for order {o.coi} "
                    f"({action}). Refused: {refusal.message}."
                ),
                actor=None,
                site=o.manufacturing_site,
                detected_at=detected_at,
            )
            number = dev.number
    message = refusal.message + (f"; deviation {number} raised" if number else "")
    if refusal.deviation:
        raise InterlockBlocked(message, field=field)
    raise ValidationFailed(message, field=field)
