"""Domain errors. Services raise them; the API and views turn them into 4xx with the field."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the user can act on. `field` names the input at fault, when there is one."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        return {"detail": self.message, "field": self.field}


class ValidationFailed(DomainError):
    status_code = 400


class NotAuthenticated(DomainError):
    """The credential presented (an API token) is refused: revoked, expired, account locked."""

    status_code = 401


class Unprocessable(DomainError):
    """Well-formed input that contradicts what the server already holds (e.g. an idempotency
    key reused with another body)."""

    status_code = 422


class PermissionRefused(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """The request is well formed but the record's state forbids it (e.g. already revoked)."""

    status_code = 409


class InterlockBlocked(DomainError):
    """A GMP interlock refused the action (DESIGN.md rule 6); the attempt is recorded."""

    status_code = 409


class SignatureRefused(DomainError):
    """Wrong password, locked account, or a four-eyes breach at the moment of signing."""

    status_code = 403
