"""Core API: sites, audit trail, signatures, users, tokens. Thin: parse, call, serialize."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Status

from vein2vein.web.lists import api_rows

from . import selectors, services
from .actors import api_user
from .audit import verify_chain
from .auth import token_of
from .errors import NotFound, PermissionRefused
from .filters import AuditEventFilterSet
from .idempotency import not_replayable
from .models import RoleAssignment, Signature, Site, User
from .pagination import Page, page_of
from .permissions import Perm, require
from .privacy import visible_changes
from .schemas import (
    AuditEventOut,
    AuditFilter,
    ErrorOut,
    GrantIn,
    MeOut,
    ReasonIn,
    RoleOut,
    SignatureOut,
    SignIn,
    SiteIn,
    SiteOut,
    SitePatch,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    VerifyOut,
)
from .signing import is_valid, manifestation, resolve_record, resolve_signable, signatures_for

router = Router()
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _site(site_id: int) -> Site:
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        raise NotFound(f"site {site_id} does not exist", field="site_id")
    return site


def _roles(user: User) -> list[RoleOut]:
    return [
        RoleOut(id=a.pk, site=a.site.code, role=a.role, granted_at=a.granted_at)
        for a in selectors.active_assignments(user)
    ]


# --- me -------------------------------------------------------------------------------------
@router.get("/me", response={200: MeOut, **ERRORS}, tags=["users"])
def me(request: HttpRequest) -> MeOut:
    user = api_user(request)
    return MeOut(id=user.pk, username=user.username, full_name=user.full_name, roles=_roles(user))


# --- sites ----------------------------------------------------------------------------------
@router.get("/sites", response={200: list[SiteOut], **ERRORS}, tags=["sites"])
def list_sites(request: HttpRequest, page: Query[Page]) -> list[Site]:
    require(api_user(request), Perm.RECORD_VIEW)
    return page_of(selectors.sites(), page)


@router.post("/sites", response={201: SiteOut, **ERRORS}, tags=["sites"])
def create_site(request: HttpRequest, payload: SiteIn) -> Status[Site]:
    return Status(201, services.create_site(actor=api_user(request), **payload.dict()))


@router.get("/sites/{site_id}", response={200: SiteOut, **ERRORS}, tags=["sites"])
def get_site(request: HttpRequest, site_id: int) -> Site:
    require(api_user(request), Perm.RECORD_VIEW)
    return _site(site_id)


@router.patch("/sites/{site_id}", response={200: SiteOut, **ERRORS}, tags=["sites"])
def update_site(request: HttpRequest, site_id: int, payload: SitePatch) -> Site:
    fields = payload.dict(exclude_unset=True, exclude_none=True)
    reason = fields.pop("reason")
    return services.update_site(actor=api_user(request), site_id=site_id, reason=reason, **fields)


@router.post("/sites/{site_id}/deactivate", response={200: SiteOut, **ERRORS}, tags=["sites"])
def deactivate_site(request: HttpRequest, site_id: int, payload: ReasonIn) -> Site:
    return services.deactivate_site(actor=api_user(request), site_id=site_id, reason=payload.reason)


@router.post("/sites/{site_id}/reactivate", response={200: SiteOut, **ERRORS}, tags=["sites"])
def reactivate_site(request: HttpRequest, site_id: int, payload: ReasonIn) -> Site:
    return services.reactivate_site(actor=api_user(request), site_id=site_id, reason=payload.reason)


# --- audit trail ----------------------------------------------------------------------------
@router.get("/audit/events", response={200: list[AuditEventOut], **ERRORS}, tags=["audit"])
def audit_events(request: HttpRequest, filters: Query[AuditFilter]) -> list[object]:
    require(api_user(request), Perm.AUDIT_VIEW)
    qs = api_rows(AuditEventFilterSet, filters, selectors.audit_events(), request)
    events = list(page_of(qs, filters))
    user = api_user(request)
    for event in events:  # shown, never saved: the stored event and its hash stay as they are
        event.changes = dict(visible_changes(user, event))
    return events


@router.get("/audit/verify", response={200: VerifyOut, **ERRORS}, tags=["audit"])
def audit_verify(request: HttpRequest) -> VerifyOut:
    require(api_user(request), Perm.AUDIT_VIEW)
    result = verify_chain()
    p = result.problem
    return VerifyOut(
        ok=result.ok,
        count=result.count,
        head_hash=result.head_hash,
        first_bad_seq=p.seq if p else None,
        problem=p.kind if p else None,
        detail=p.detail if p else None,
    )


# --- signatures -----------------------------------------------------------------------------
def _signature_out(sig: Signature) -> SignatureOut:
    m = manifestation(sig)
    return SignatureOut(
        id=sig.pk,
        record_type=sig.record_type,
        record_id=sig.record_id,
        meaning=sig.meaning,
        signer_username=m.username,
        printed_name=m.printed_name,
        signed_at=sig.signed_at,
        signed_at_display=m.signed_at,
        time_zone=sig.time_zone,
        content_hash=sig.content_hash,
        valid=is_valid(sig),
        manifestation=str(m),
    )


@router.post("/signatures", response={201: SignatureOut, **ERRORS}, tags=["signatures"])
def sign(request: HttpRequest, payload: SignIn) -> Status[SignatureOut]:
    user = api_user(request)
    require(user, Perm.RECORD_VIEW)
    record = resolve_signable(payload.record_type, payload.record_id)
    sig = services.sign_record(
        actor=user,
        record=record,
        meaning=payload.meaning,
        password=payload.password,
        reason=payload.reason,
        request=request,
    )
    return Status(201, _signature_out(sig))


@router.get("/signatures", response={200: list[SignatureOut], **ERRORS}, tags=["signatures"])
def list_signatures(
    request: HttpRequest, record_type: str, record_id: str, page: Query[Page]
) -> list[SignatureOut]:
    require(api_user(request), Perm.RECORD_VIEW)
    signed = signatures_for(resolve_record(record_type, record_id))
    return [_signature_out(s) for s in page_of(signed, page)]


# --- users and roles ------------------------------------------------------------------------
def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.pk,
        username=user.username,
        full_name=user.full_name,
        email=user.email,
        is_active=user.is_active,
        roles=[
            RoleOut(id=a.pk, site=a.site.code, role=a.role, granted_at=a.granted_at)
            for a in user.role_assignments.all()  # prefetched by selectors.users()
            if a.revoked_at is None
        ],
    )


@router.get("/users", response={200: list[UserOut], **ERRORS}, tags=["users"])
def list_users(request: HttpRequest, page: Query[Page]) -> list[UserOut]:
    require(api_user(request), Perm.RECORD_VIEW)
    return [_user_out(u) for u in page_of(selectors.users(), page)]


@router.post("/users", response={201: UserOut, **ERRORS}, tags=["users"])
def create_user(request: HttpRequest, payload: UserIn) -> Status[UserOut]:
    return Status(201, _user_out(services.create_user(actor=api_user(request), **payload.dict())))


@router.post("/users/{user_id}/roles", response={201: RoleOut, **ERRORS}, tags=["users"])
def grant_role(request: HttpRequest, user_id: int, payload: GrantIn) -> Status[RoleOut]:
    a: RoleAssignment = services.grant_role(
        actor=api_user(request), user_id=user_id, site_id=payload.site_id, role=payload.role
    )
    return Status(201, RoleOut(id=a.pk, site=a.site.code, role=a.role, granted_at=a.granted_at))


@router.post("/roles/{assignment_id}/revoke", response={200: RoleOut, **ERRORS}, tags=["users"])
def revoke_role(request: HttpRequest, assignment_id: int, payload: ReasonIn) -> RoleOut:
    a = services.revoke_role(
        actor=api_user(request), assignment_id=assignment_id, reason=payload.reason
    )
    return RoleOut(id=a.pk, site=a.site.code, role=a.role, granted_at=a.granted_at)


# --- personal API tokens --------------------------------------------------------------------
@router.get("/tokens", response={200: list[TokenOut], **ERRORS}, tags=["tokens"])
def list_tokens(request: HttpRequest, page: Query[Page]) -> list[object]:
    return page_of(selectors.api_tokens(api_user(request)), page)


@router.post("/tokens", response={201: TokenCreatedOut, **ERRORS}, tags=["tokens"])
@not_replayable
def create_token(request: HttpRequest, payload: TokenIn) -> Status[TokenCreatedOut]:
    """Needs the browser session (a password login): a stolen token must not mint others."""
    if token_of(request) is not None:
        raise PermissionRefused(
            "an API token cannot create tokens: log in with your password (browser session) "
            "or use `vein2vein token create` on the server",
            field="authorization",
        )
    user = api_user(request)
    token, raw = services.create_api_token(
        actor=user,
        user=user,
        name=payload.name,
        scope=payload.scope,
        expires_in_days=payload.expires_in_days,
    )
    created = TokenCreatedOut(
        prefix=token.prefix,
        name=token.name,
        scope=token.scope,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=None,
        revoked_at=None,
        token=raw,
    )
    return Status(201, created)


@router.post("/tokens/{prefix}/revoke", response={200: TokenOut, **ERRORS}, tags=["tokens"])
def revoke_token(request: HttpRequest, prefix: str, payload: ReasonIn) -> object:
    return services.revoke_api_token(actor=api_user(request), prefix=prefix, reason=payload.reason)
