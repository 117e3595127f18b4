"""The vocabularies of QC: sample purposes, method categories, criterion kinds, statuses."""

from __future__ import annotations

from django.db import models


class SamplePurpose(models.TextChoices):
    IN_PROCESS = "in_process", "In-process"
    RELEASE = "release", "Release"
    RETAIN = "retain", "Retain"
    STABILITY = "stability", "Stability"


class SampleStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    IN_TRANSIT = "in_transit", "In transit to a lab"
    CONSUMED = "consumed", "Consumed"


class MethodCategory(models.TextChoices):
    STERILITY = "sterility", "Sterility"
    ENDOTOXIN = "endotoxin", "Endotoxin"
    MYCOPLASMA = "mycoplasma", "Mycoplasma"
    CELL_COUNT = "cell_count", "Cell count and viability"
    IDENTITY = "identity", "Identity (flow cytometry)"
    CAR_EXPRESSION = "car_expression", "CAR expression"
    VCN = "vcn", "Vector copy number"
    POTENCY = "potency", "Potency"
    RCL = "rcl", "Replication-competent lentivirus"
    RESIDUAL_BEADS = "residual_beads", "Residual beads"
    APPEARANCE = "appearance", "Appearance"


class SpecStage(models.TextChoices):
    IN_PROCESS = "in_process", "In-process"
    RELEASE = "release", "Release"
    STABILITY = "stability", "Stability"


class SpecStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    SUPERSEDED = "superseded", "Superseded"


class ResultStatus(models.TextChoices):
    AWAITING_REVIEW = "awaiting_review", "Awaiting review"
    REVIEWED = "reviewed", "Reviewed"
    INVALIDATION_REQUESTED = "invalidation_requested", "Invalidation requested"
    INVALIDATED = "invalidated", "Invalidated"


class Evaluation(models.TextChoices):
    IN_SPEC = "in_spec", "Within specification"
    OUT_OF_SPEC = "out_of_spec", "Out of specification"
    REPORTED = "reported", "Reported (no limit)"


class OosPhase(models.TextChoices):
    PHASE_I = "phase_i", "Phase I: laboratory investigation"
    PHASE_II = "phase_ii", "Phase II: full-scale investigation"
    CONCLUDED = "concluded", "Concluded"


class LabKind(models.TextChoices):
    INTERNAL = "internal", "Internal QC laboratory"
    EXTERNAL = "external", "External laboratory"
