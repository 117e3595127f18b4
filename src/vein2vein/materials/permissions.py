"""Who may do what with materials. Imported by the services, so the map is complete when used.

Release and reject are signed by QC or QA; for a material that needs no QC release a
supervisor may also sign the release (every lot still needs a release signature).
"""

from __future__ import annotations

from enum import StrEnum

from vein2vein.core.choices import Role
from vein2vein.core.permissions import ALL_ROLES, register_permissions


class MatPerm(StrEnum):
    VIEW = "materials.view"
    RECEIVE = "materials.lot.receive"
    INVENTORY = "materials.inventory.move"
    IMPORT = "materials.lot.import"
    MASTER = "materials.master.manage"
    DISPOSITION = "materials.lot.disposition"
    HOLD = "materials.lot.hold"


STOCK_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.LOGISTICS, Role.QC_ANALYST})
MASTER_ROLES = frozenset({Role.SUPERVISOR, Role.QA_REVIEWER, Role.QA_APPROVER})
QC_QA_ROLES = frozenset({Role.QC_ANALYST, Role.QA_REVIEWER, Role.QA_APPROVER})
# Who may sign a lot's release when its material needs no QC release.
NON_QC_RELEASE_ROLES = QC_QA_ROLES | {Role.SUPERVISOR}

register_permissions(
    {
        MatPerm.VIEW: ALL_ROLES,
        MatPerm.RECEIVE: STOCK_ROLES,
        MatPerm.INVENTORY: STOCK_ROLES,
        MatPerm.IMPORT: frozenset({Role.SUPERVISOR, Role.LOGISTICS}),
        MatPerm.MASTER: MASTER_ROLES,
        # The widest set; release_lot narrows it by the material's qc_release_required.
        MatPerm.DISPOSITION: NON_QC_RELEASE_ROLES,
        MatPerm.HOLD: NON_QC_RELEASE_ROLES,
    }
)


def release_roles(qc_release_required: bool) -> frozenset[Role]:
    return QC_QA_ROLES if qc_release_required else NON_QC_RELEASE_ROLES
