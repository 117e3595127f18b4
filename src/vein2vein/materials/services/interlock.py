"""The materials interlock the batch record calls before a material is used.

How to call it (manufacturing): check BEFORE opening your transaction, so the refusal that
is recorded is not rolled back with your own work::

    from vein2vein.materials.services import consume_lot, require_material_usable

    require_material_usable(
        actor=actor, lot=lot, part="MAT-0007", quantity="10",
        action="manufacturing.step.material", record=step,
    )
    with transaction.atomic():
        ...
        consume_lot(actor=actor, lot_id=lot.pk, quantity="10", part="MAT-0007",
                    reference="B-0007 step 4", record=step)

`consume_lot` re-checks with the lot locked, so nothing slips in between.
"""

from __future__ import annotations

import datetime as dt

from django.db import models

from vein2vein.core import audit
from vein2vein.core.errors import InterlockBlocked
from vein2vein.core.models import User

from ..models import Lot, Material
from ..selectors import Usability, check_material_usable
from ._common import in_service_transaction


def require_material_usable(
    *,
    actor: User,
    lot: Lot,
    part: Material | str | None,
    quantity: object,
    action: str,
    record: models.Model | tuple[str, str],
    at: dt.datetime | None = None,
) -> Usability:
    """Refuse (InterlockBlocked, 409) and record the refusal unless the lot is usable."""
    if in_service_transaction():
        raise RuntimeError(
            "require_material_usable must run before transaction.atomic(): inside one, the "
            "record of the refusal would be rolled back with the caller's work"
        )
    result = check_material_usable(lot, part, quantity, at)
    if not result.ok:
        audit.record_blocked_attempt(
            actor=actor,
            action=action,
            record=record,
            reason=result.message,
            details={
                "lot": {"old": None, "new": lot.lot_number},
                "reasons": {"old": None, "new": result.reasons},
            },
        )
        raise InterlockBlocked(result.message, field="lot_id")
    return result
