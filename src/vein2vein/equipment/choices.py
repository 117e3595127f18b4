"""Equipment kinds and statuses, with the allowed status transitions next to them.

The services move a unit only along `STATUS_TRANSITIONS`, so the lifecycle reads here in one
place. Which qualification stages a kind needs before it may enter service is configuration
(`REQUIRED_STAGES`): IQ, OQ and PQ for every kind by default.
"""

from __future__ import annotations

from django.db import models


class EquipmentKind(models.TextChoices):
    BIOSAFETY_CABINET = "biosafety_cabinet", "Biosafety cabinet"
    INCUBATOR = "incubator", "Incubator"
    CENTRIFUGE = "centrifuge", "Centrifuge"
    CLOSED_SYSTEM = "closed_system", "Closed-system processor or bioreactor"
    CELL_COUNTER = "cell_counter", "Cell counter"
    FLOW_CYTOMETER = "flow_cytometer", "Flow cytometer"
    CONTROLLED_RATE_FREEZER = "controlled_rate_freezer", "Controlled-rate freezer"
    LN2_FREEZER = "ln2_freezer", "LN2 freezer"
    CELL_WASHER = "cell_washer", "Cell washer"
    TUBE_SEALER = "tube_sealer", "Tube sealer"
    ISOLATOR = "isolator", "Isolator"


class EquipmentStatus(models.TextChoices):
    IN_QUALIFICATION = "in_qualification", "In qualification"
    IN_SERVICE = "in_service", "In service"
    OUT_OF_SERVICE = "out_of_service", "Out of service"
    RETIRED = "retired", "Retired"


# Every move is audited with its reason; retired is final.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    EquipmentStatus.IN_QUALIFICATION: frozenset(
        {EquipmentStatus.IN_SERVICE, EquipmentStatus.OUT_OF_SERVICE, EquipmentStatus.RETIRED}
    ),
    EquipmentStatus.IN_SERVICE: frozenset(
        {EquipmentStatus.OUT_OF_SERVICE, EquipmentStatus.IN_QUALIFICATION, EquipmentStatus.RETIRED}
    ),
    EquipmentStatus.OUT_OF_SERVICE: frozenset(
        {EquipmentStatus.IN_SERVICE, EquipmentStatus.IN_QUALIFICATION, EquipmentStatus.RETIRED}
    ),
    EquipmentStatus.RETIRED: frozenset(),
}


class QualificationStage(models.TextChoices):
    IQ = "IQ", "Installation qualification (IQ)"
    OQ = "OQ", "Operational qualification (OQ)"
    PQ = "PQ", "Performance qualification (PQ)"


ALL_STAGES: tuple[str, ...] = tuple(QualificationStage.values)

# The stages a unit of each kind needs, approved and passed, before it may enter service.
REQUIRED_STAGES: dict[str, tuple[str, ...]] = {kind: ALL_STAGES for kind in EquipmentKind.values}


class QualificationStatus(models.TextChoices):
    PENDING = "pending_approval", "Pending QA approval"
    APPROVED = "approved", "Approved"


class Result(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"


class PlanKind(models.TextChoices):
    CALIBRATION = "calibration", "Calibration"
    MAINTENANCE = "maintenance", "Preventive maintenance"


MAX_INTERVAL_DAYS = 3660  # ten years
DUE_SOON_DAYS = 14  # the dashboard and the list's "due soon" filter
