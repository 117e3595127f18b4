"""The sign-off step: the performer's own signature ('performed'). The password is checked
before the step's transaction (a failed attempt counts toward lockout); the signature is
applied inside it, after the entry's audit event."""

from __future__ import annotations

from vein2vein.core.choices import SignatureMeaning
from vein2vein.core.errors import ValidationFailed
from vein2vein.core.services import apply_signature, check_password_for_signing

from ...models import StepEntry
from ._shared import Attempt, Prepared, StepHandler


class SignoffStep(StepHandler):
    def check(self, a: Attempt, p: Prepared) -> None:
        if a.password is None:
            raise ValidationFailed("password is required to sign off", field="password")
        p.proof = check_password_for_signing(a.actor, a.password, a.request)

    def after_event(self, a: Attempt, p: Prepared, entry: StepEntry) -> None:
        assert p.proof is not None
        apply_signature(
            proof=p.proof, actor=a.actor, record=entry, meaning=SignatureMeaning.PERFORMED
        )
