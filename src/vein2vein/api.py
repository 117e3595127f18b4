"""The REST API at /api/v1: one NinjaAPI, a router per domain app, JSON errors naming the field."""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import django_auth

from .chain.api import router as chain_router
from .core import idempotency
from .core.api import router as core_router
from .core.auth import TokenAuth
from .core.errors import DomainError
from .documents.api import router as documents_router
from .equipment.api import router as equipment_router
from .manufacturing.api import router as manufacturing_router
from .materials.api import router as materials_router
from .qc.api import router as qc_router
from .quality.api import router as quality_router
from .release.api import router as release_router
from .training.api import router as training_router

log = logging.getLogger("vein2vein.api")

api = NinjaAPI(
    title="vein2vein API",
    version="1",
    description="GMP platform for cell therapy manufacturing. Authenticate with the browser "
    "session or `Authorization: Bearer <personal API token>` (`vein2vein token create USER`).",
    auth=[TokenAuth(), django_auth],
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
idempotency.install(api)  # Idempotency-Key on machine posts (DESIGN.md rule 8)


def _field(loc: list[object] | tuple[object, ...]) -> str | None:
    parts = [
        str(p)
        for p in loc
        if p not in ("body", "payload", "query", "path", "filters", "form", "file")
    ]
    return ".".join(parts) or None


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status_code)


@api.exception_handler(NinjaValidationError)
def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    field = _field(first.get("loc", ()))
    message = first.get("msg", "invalid input")
    detail = f"{field}: {message}" if field else message
    return api.create_response(
        request, {"detail": detail, "field": field, "errors": exc.errors}, status=422
    )


@api.exception_handler(AuthenticationError)
def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request,
        {"detail": "authentication required: log in or send a valid API token", "field": None},
        status=401,
    )


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"detail": "not found", "field": None}, status=404)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc), "field": None}, status=exc.status_code)


api.add_router("/", core_router)
api.add_router("/quality", quality_router)
api.add_router("/documents", documents_router)
api.add_router("/training", training_router)
api.add_router("/materials", materials_router)
api.add_router("/equipment", equipment_router)
api.add_router("/chain", chain_router)
api.add_router("/manufacturing", manufacturing_router)
api.add_router("/qc", qc_router)
api.add_router("/release", release_router)


def unknown_route(request: HttpRequest, rest: str = "") -> HttpResponse:
    """A path under /api/v1 that names no route: the JSON error, not Django's HTML page."""
    return api.create_response(
        request, {"detail": f"no API route at {request.path}", "field": None}, status=404
    )
