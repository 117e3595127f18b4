"""The training interlock later apps call before a user executes a step.

How to call it (manufacturing, QC, storage...): check BEFORE opening your transaction, so the
refusal that is recorded is not rolled back with your own work::

    from vein2vein.training.services import require_qualified

    def execute_step(*, actor, step, ...):
        require(actor, Perm.STEP_EXECUTE, step.site)
        require_qualified(
            user=actor,
            requirements=step.training_requirements,  # ["SOP-0004", "APS", document, ...]
            action="manufacturing.step.execute",      # the audit action; ".blocked" is added
            record=step,                              # the record the refusal is filed under
        )
        with transaction.atomic():
            ...

It raises `InterlockBlocked` (HTTP 409) naming what is missing, e.g. "Omar Okafor is not
qualified: SOP-0004 v1 not read; Aseptic process simulation not held", after writing a
`<action>.blocked` audit event in its own transaction. Called inside a transaction it refuses
to run (RuntimeError): the blocked-attempt event would be rolled back with the caller's work.
To close the gap between the check and your transaction, re-check inside it with the pure
`selectors.is_qualified` and, if that fails, raise; then, after the rollback, call
`require_qualified` again to record the refusal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import models

from vein2vein.core import audit
from vein2vein.core.errors import InterlockBlocked
from vein2vein.core.models import User

from ..selectors import QualificationResult, Requirement, _label, is_qualified
from ._common import in_service_transaction


def require_qualified(
    *,
    user: User,
    requirements: Iterable[Requirement],
    action: str,
    record: models.Model | tuple[str, str],
    at: dt.datetime | None = None,
) -> QualificationResult:
    """Refuse (and record the refusal) unless `user` is qualified for `requirements`."""
    if in_service_transaction():
        raise RuntimeError(
            "require_qualified must run before transaction.atomic(): inside one, the record "
            "of the refusal would be rolled back with the caller's work"
        )
    wanted = list(requirements)
    result = is_qualified(user, wanted, at)
    if not result.ok:
        audit.record_blocked_attempt(
            actor=user,
            action=action,
            record=record,
            reason=result.message,
            details={
                "missing": {"old": None, "new": result.missing},
                "requirements": {"old": None, "new": [_label(r) for r in wanted]},
            },
        )
        raise InterlockBlocked(result.message)
    return result
