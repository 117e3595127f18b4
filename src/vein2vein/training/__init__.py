"""Training and qualification: curricula per role, read-and-understood training per document
version, qualifications with expiry, and the training interlock.

What other apps use (see services/interlock.py for how to call the interlock):

- `selectors.is_qualified(user, requirements, at=None) -> QualificationResult`: a pure read;
  requirements are document numbers or Documents (the version effective at `at`) and
  qualification type codes or QualificationTypes. `result.ok` / `bool(result)`, and
  `result.missing`, e.g. ["SOP-0004 v1 not read", "Aseptic gowning expired 2026-10-01"].
- `services.require_qualified(*, user, requirements, action, record, at=None)`: the same
  question; on "no" it records `<action>.blocked` in the audit trail and raises
  `InterlockBlocked` naming what is missing. Call it before your transaction.
- The hook receiver in receivers.py: a version made effective by the documents app is assigned
  to every role holder whose curriculum lists the document.
"""
