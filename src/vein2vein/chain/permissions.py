"""Who may do what in the chain of identity. Imported by the services, so the map is
complete when used.

Personal data (a patient's name and date of birth) is for the clinical roles only: QC,
manufacturing, QA and inspectors work with the COI identifier (issue 5; GDPR/HIPAA minimum
necessary). A clinical-site user sees the patients of the sites where they hold the role.
"""

from __future__ import annotations

from enum import StrEnum

from vein2vein.core.choices import Role
from vein2vein.core.permissions import ALL_ROLES, register_permissions

from .choices import OrderStatus


class ChainPerm(StrEnum):
    VIEW = "chain.view"
    VIEW_IDENTITY = "chain.patient.identity"
    PATIENT_MANAGE = "chain.patient.manage"
    ORDER_CREATE = "chain.order.create"
    ORDER_CANCEL = "chain.order.cancel"
    SLOT_BOOK = "chain.slot.book"
    CAPACITY_MANAGE = "chain.capacity.manage"
    PRODUCT_MANAGE = "chain.product.manage"
    COLLECTION_RECORD = "chain.collection.record"
    RECEIVE = "chain.receipt.record"
    RECEIPT_DISPOSITION = "chain.receipt.disposition"
    HANDOFF = "chain.custody.handoff"
    ADVANCE = "chain.order.advance"


CLINICAL = frozenset({Role.CLINICAL_SITE})
PLANNERS = frozenset({Role.CLINICAL_SITE, Role.LOGISTICS, Role.SUPERVISOR})
RECEIVERS = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.LOGISTICS})
QA_DISPOSITION = frozenset({Role.QA_APPROVER})
HANDLERS = frozenset(
    {Role.CLINICAL_SITE, Role.OPERATOR, Role.SUPERVISOR, Role.LOGISTICS, Role.QC_ANALYST}
)

register_permissions(
    {
        ChainPerm.VIEW: ALL_ROLES,
        ChainPerm.VIEW_IDENTITY: CLINICAL,
        ChainPerm.PATIENT_MANAGE: CLINICAL,
        ChainPerm.ORDER_CREATE: CLINICAL,
        ChainPerm.ORDER_CANCEL: frozenset({Role.CLINICAL_SITE, Role.SUPERVISOR}),
        ChainPerm.SLOT_BOOK: PLANNERS,
        ChainPerm.CAPACITY_MANAGE: frozenset({Role.SUPERVISOR}),
        ChainPerm.PRODUCT_MANAGE: frozenset({Role.SUPERVISOR, Role.QA_APPROVER}),
        ChainPerm.COLLECTION_RECORD: CLINICAL,
        ChainPerm.RECEIVE: RECEIVERS,
        # A quarantined receipt is released or rejected by QA only.
        ChainPerm.RECEIPT_DISPOSITION: QA_DISPOSITION,
        ChainPerm.HANDOFF: HANDLERS,
        # The widest set; `ADVANCE_ROLES` narrows it per target stage.
        ChainPerm.ADVANCE: frozenset(
            {
                Role.OPERATOR,
                Role.SUPERVISOR,
                Role.QC_ANALYST,
                Role.QA_APPROVER,
                Role.CLINICAL_SITE,
            }
        ),
    }
)

# Who moves an order into each later stage (at the site where that work happens).
ADVANCE_ROLES: dict[str, frozenset[Role]] = {
    OrderStatus.IN_MANUFACTURING: frozenset({Role.OPERATOR, Role.SUPERVISOR}),
    OrderStatus.IN_QC: frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.QC_ANALYST}),
    OrderStatus.RELEASED: frozenset({Role.QA_APPROVER}),
    OrderStatus.REJECTED: frozenset({Role.QA_APPROVER}),
    OrderStatus.INFUSED: frozenset({Role.CLINICAL_SITE}),
}
