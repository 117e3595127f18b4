"""Every write of the chain of identity. Views, the API, commands and later apps call these.

Later apps: `advance_order` moves an order into manufacturing, QC, release or infusion;
`hand_off` records a change of hands (the scan must match); `verify_identity` checks a scan
against an order without writing anything.
"""

from .collection import correct_collection, record_collection
from .custody import check_stability_clocks, disposition_receipt, hand_off, receive_collection
from .identity import (
    BAG_LABEL_IDENTIFIERS,
    IdentityMatch,
    IdentityRefused,
    decode,
    mask_personal,
    verify_bag_label,
    verify_identity,
)
from .orders import (
    advance_order,
    cancel_order,
    correct_patient,
    create_order,
    create_product,
    enroll_patient,
    update_product,
)
from .scheduling import book_slot, cancel_booking, reschedule_slot, set_capacity

__all__ = [
    "BAG_LABEL_IDENTIFIERS",
    "IdentityMatch",
    "IdentityRefused",
    "advance_order",
    "book_slot",
    "cancel_booking",
    "cancel_order",
    "check_stability_clocks",
    "correct_collection",
    "correct_patient",
    "create_order",
    "create_product",
    "decode",
    "disposition_receipt",
    "enroll_patient",
    "hand_off",
    "mask_personal",
    "receive_collection",
    "record_collection",
    "reschedule_slot",
    "set_capacity",
    "update_product",
    "verify_bag_label",
    "verify_identity",
]
