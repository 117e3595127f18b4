"""Idempotency keys for machine posts (DESIGN.md rule 8): a retry is applied once, never twice.

A POST, PUT or PATCH under /api/v1 that carries `Idempotency-Key: <key>` is remembered per
user. A retry with the same key, method, path and body gets the first answer again with
`Idempotent-Replayed: true` and writes nothing; the same key with another body or path is
refused (422, field "Idempotency-Key"); an empty key, or one longer than the column, is a 400.

Why the key row is written by an audit-event signal: services open and commit their own
transaction and refuse to run inside an outer one (interlocks and signature password checks
record refusals in their own transaction; see core/transactions.py), so the view cannot be
wrapped in one atomic block. Every GMP write appends an audit event inside the service's
transaction, so the key row is inserted right there, by a post_save receiver on AuditEvent:
the write and the key commit or roll back together. The answer itself exists only after the
service has returned, so it is filled in just after; if the process dies in between (kill -9),
the key row stays "applied, answer not recorded" and a retry is told so (409 naming the record)
instead of being applied a second time. A request that wrote nothing stores no key: a retry
simply runs again (it cannot duplicate what was never written).

Wired into the API by `install(api)` (vein2vein/api.py): a view-mode decorator around each
operation (sees the final response), an operation-mode decorator (runs after authentication,
so it knows the user), and the exception handler that answers a replay.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from ninja import NinjaAPI

from .errors import Conflict, Unprocessable, ValidationFailed
from .models import AuditEvent, IdempotencyKey, User
from .time import now

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_KEY_LENGTH: int = IdempotencyKey._meta.get_field("key").max_length or 200
# status_code of a key whose write committed but whose answer is not (yet) recorded.
PENDING = 0
_EXEMPT = "_idempotency_exempt"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class _Pending:
    request: HttpRequest
    key: str
    method: str
    path: str
    request_hash: str
    user: User | None = None  # set once authenticated and checked: the key is then armed
    row_pk: int | None = None
    replayed: bool = False


_current: ContextVar[_Pending | None] = ContextVar("vein2vein_idempotency", default=None)


class _Replay(Exception):
    """Raised after authentication when the key was seen: answered by `_replay`."""

    def __init__(self, stored: IdempotencyKey) -> None:
        super().__init__(stored.key)
        self.stored = stored


def not_replayable(view: F) -> F:
    """Refuse an Idempotency-Key on a route whose answer must not be stored (it holds a secret
    shown once, e.g. a new API token)."""
    setattr(view, _EXEMPT, True)
    return view


def _digest(body: bytes) -> str:
    """Keyed, so a stored hash of a body holding a password cannot be brute-forced offline."""
    return hmac.new(settings.SECRET_KEY.encode(), body, hashlib.sha256).hexdigest()


def _error(api: NinjaAPI, request: HttpRequest, message: str, status: int) -> HttpResponse:
    return api.create_response(request, {"detail": message, "field": HEADER}, status=status)


def _around_run(api: NinjaAPI) -> Callable[[F], F]:
    """View mode: around the whole operation (auth, parsing, view, serialization)."""

    def decorate(run: F) -> F:
        @functools.wraps(run)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in WRITE_METHODS or HEADER not in request.headers:
                return run(request, *args, **kwargs)  # type: ignore[no-any-return]
            try:
                body = request.body
            except RequestDataTooBig:
                return _error(api, request, f"{HEADER}: the request body is too large", 400)
            pending = _Pending(
                request=request,
                key=request.headers[HEADER],
                method=request.method,
                path=request.path,
                request_hash=_digest(body),
            )
            token = _current.set(pending)
            try:
                response: HttpResponseBase = run(request, *args, **kwargs)
            finally:
                _current.reset(token)
            if not pending.replayed and pending.row_pk is not None:
                _record_response(pending, response)
            return response

        return wrapper  # type: ignore[return-value]

    return decorate


def _around_view(view: F) -> F:
    """Operation mode: after authentication and input parsing, before the view runs."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        pending = _current.get()
        if pending is None or pending.request is not request:
            return view(request, *args, **kwargs)
        key = pending.key
        if not key.strip():
            raise ValidationFailed(f"{HEADER} must not be empty", field=HEADER)
        if len(key) > MAX_KEY_LENGTH:
            raise ValidationFailed(
                f"{HEADER} may be at most {MAX_KEY_LENGTH} characters, not {len(key)}",
                field=HEADER,
            )
        if getattr(view, _EXEMPT, False):
            raise ValidationFailed(
                f"{HEADER} is not accepted on {request.path}: its answer is shown only once",
                field=HEADER,
            )
        user: User = request.auth  # type: ignore[attr-defined]
        stored = IdempotencyKey.objects.filter(user=user, key=key).first()
        if stored is not None:
            same = (stored.method, stored.path, stored.request_hash) == (
                pending.method,
                pending.path,
                pending.request_hash,
            )
            if not same:
                raise Unprocessable(
                    f"{HEADER} {key!r} was first used for {stored.method} {stored.path} with "
                    "another body; a different request needs a new key",
                    field=HEADER,
                )
            if stored.status_code == PENDING:
                raise Conflict(_pending_message(stored), field=HEADER)
            pending.replayed = True
            raise _Replay(stored)
        pending.user = user
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _pending_message(stored: IdempotencyKey) -> str:
    try:
        first = json.loads(stored.response_body)
        where = f"{first['record_type']} {first['record_id']} (audit event #{first['seq']})"
    except (ValueError, KeyError, TypeError):
        where = "its record"
    return (
        f"{HEADER} {stored.key!r}: the first request was applied at "
        f"{stored.created_at:%Y-%m-%d %H:%M:%S} UTC but its answer was not recorded (the "
        f"connection or server was interrupted, or it is still running); it is not applied "
        f"again. Look up {where}."
    )


def _replay(request: HttpRequest, exc: object) -> HttpResponse:
    assert isinstance(exc, _Replay)
    stored = exc.stored
    response = HttpResponse(
        stored.response_body, status=stored.status_code, content_type=stored.content_type
    )
    response[REPLAYED_HEADER] = "true"
    return response


def _bind_key(sender: type[AuditEvent], instance: AuditEvent, created: bool, **kw: Any) -> None:
    """Insert the key row in the transaction of the request's first audited write."""
    pending = _current.get()
    if not created or kw.get("raw") or pending is None or pending.user is None:
        return
    if pending.replayed:
        return
    existing = (
        IdempotencyKey.objects.filter(user=pending.user, key=pending.key)
        .values_list("pk", flat=True)
        .first()
    )
    if existing is not None and existing == pending.row_pk:
        return  # bound by an earlier, committed write of this same request
    clash = Conflict(
        f"{HEADER} {pending.key!r}: another request with this key was applied first",
        field=HEADER,
    )
    if existing is not None:
        raise clash
    first = {"record_type": instance.record_type, "record_id": instance.record_id}
    try:
        with transaction.atomic():
            row = IdempotencyKey.objects.create(
                user=pending.user,
                key=pending.key,
                method=pending.method,
                path=pending.path,
                request_hash=pending.request_hash,
                status_code=PENDING,
                response_body=json.dumps({**first, "seq": instance.seq}),
                content_type="application/json",
                created_at=now(),
            )
    except IntegrityError:
        raise clash from None
    pending.row_pk = row.pk


def _record_response(pending: _Pending, response: HttpResponseBase) -> None:
    """Fill in the answer of a bound key once; a streamed or binary answer stays pending."""
    if pending.row_pk is None or response.streaming or not isinstance(response, HttpResponse):
        return
    try:
        body = response.content.decode("utf-8")
    except UnicodeDecodeError:
        return
    IdempotencyKey.objects.filter(pk=pending.row_pk, status_code=PENDING).update(
        status_code=response.status_code,
        response_body=body,
        content_type=response.get("Content-Type", ""),
    )


def install(api: NinjaAPI) -> None:
    """Wire idempotency keys into every operation of `api` (call before adding routers)."""
    api.add_decorator(_around_run(api), mode="view")
    api.add_decorator(_around_view, mode="operation")
    api.add_exception_handler(_Replay, _replay)
    post_save.connect(_bind_key, sender=AuditEvent, dispatch_uid="vein2vein.idempotency")
