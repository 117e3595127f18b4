"""Demo data, made through the services so the demo has a real audit trail. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from . import services
from .choices import Role, SiteKind
from .models import RoleAssignment, Signature, Site, User

DEMO_PASSWORD = "Vein2vein-demo!"  # noqa: S105 - printed for the demo on purpose


@dataclass(frozen=True)
class DemoSite:
    code: str
    name: str
    kind: SiteKind
    time_zone: str
    fin: str
    address: str


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    role: Role
    site: str


SITES = (
    DemoSite(
        "MFG-PHL",
        "vein2vein Cell Therapy Manufacturing",
        SiteKind.MANUFACTURING,
        "America/New_York",
        "B2345",
        "3600 Civic Center Blvd, Philadelphia PA",
    ),
    DemoSite(
        "CLIN-CHI",
        "Lakeshore University Hospital, Cellular Therapy Unit",
        SiteKind.CLINICAL,
        "America/Chicago",
        "C3456",
        "1 Lakeshore Dr, Chicago IL",
    ),
    DemoSite(
        "APH-CHI",
        "Lakeshore Apheresis Center",
        SiteKind.APHERESIS,
        "America/Chicago",
        "D4567",
        "5 Lakeshore Dr, Chicago IL",
    ),
)

ADMIN = DemoUser("admin", "Alex Admin", Role.ADMIN, "MFG-PHL")
USERS = (
    DemoUser("operator", "Olivia Ortiz", Role.OPERATOR, "MFG-PHL"),
    DemoUser("operator2", "Omar Okafor", Role.OPERATOR, "MFG-PHL"),
    DemoUser("verifier", "Victor Vance", Role.VERIFIER, "MFG-PHL"),
    DemoUser("supervisor", "Sofia Sato", Role.SUPERVISOR, "MFG-PHL"),
    DemoUser("qc", "Quinn Chen", Role.QC_ANALYST, "MFG-PHL"),
    DemoUser("qc2", "Kai Kimura", Role.QC_ANALYST, "MFG-PHL"),  # the second pair of eyes
    DemoUser("qa", "Rita Reyes", Role.QA_REVIEWER, "MFG-PHL"),
    DemoUser("qa_approver", "Amara Appiah", Role.QA_APPROVER, "MFG-PHL"),
    DemoUser("logistics", "Luis Lopez", Role.LOGISTICS, "MFG-PHL"),
    DemoUser("clinic", "Dr. Carmen Rivera", Role.CLINICAL_SITE, "CLIN-CHI"),
    DemoUser("apheresis", "Paul Park", Role.CLINICAL_SITE, "APH-CHI"),
    DemoUser("inspector", "Ingrid Ivers", Role.INSPECTOR, "MFG-PHL"),
)


def demo_user(username: str) -> User:
    """A demo person by username, for the app demos that run after this one."""
    return User.objects.get(username=username)


def demo_user_if_loaded(username: str) -> User | None:
    """A demo person, or None when the core demo has not made them (an app demo then skips)."""
    return User.objects.filter(username=username).first()


def _ensure_user(admin: User, spec: DemoUser, sites: dict[str, Site]) -> User:
    user = User.objects.filter(username=spec.username).first()
    if user is None:
        user = services.create_user(
            actor=admin,
            username=spec.username,
            full_name=spec.full_name,
            password=DEMO_PASSWORD,
            email=f"{spec.username}@example.org",
            must_change_password=False,
        )
    site = sites[spec.site]
    if not RoleAssignment.objects.filter(
        user=user, site=site, role=spec.role, revoked_at__isnull=True
    ).exists():
        services.grant_role(actor=admin, user_id=user.pk, site_id=site.pk, role=spec.role)
    return user


def load_demo() -> list[tuple[str, str, str, str]]:
    """Create what is missing; return (username, password, role, site) for every demo login."""
    first = SITES[0]
    admin = User.objects.filter(username=ADMIN.username).first()
    if admin is None:
        _, admin = services.bootstrap_installation(
            site_code=first.code,
            site_name=first.name,
            site_kind=first.kind,
            time_zone=first.time_zone,
            fin=first.fin,
            username=ADMIN.username,
            full_name=ADMIN.full_name,
            password=DEMO_PASSWORD,
            must_change_password=False,
        )
    sites: dict[str, Site] = {}
    for spec in SITES:
        site = Site.objects.filter(code=spec.code).first()
        if site is None:
            site = services.create_site(
                actor=admin,
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                time_zone=spec.time_zone,
                fin=spec.fin,
                address=spec.address,
            )
        sites[spec.code] = site
    users = {u.username: _ensure_user(admin, u, sites) for u in USERS}
    mfg_site = sites[first.code]
    if not mfg_site.address:
        # The console bootstrap records the site as the system; the administrator completes
        # its master data, which QA then reviews (a second person: the editor is known).
        mfg_site = services.update_site(
            actor=admin,
            site_id=mfg_site.pk,
            reason="Go-live: site address as on the licence",
            address=first.address,
        )
    # A QA review of the manufacturing site's master data, so a signature shows on its page.
    if not Signature.objects.filter(record_type="core.site", record_id=str(mfg_site.pk)).exists():
        services.sign_record(
            actor=users["qa"],
            record=mfg_site,
            meaning="reviewed",
            password=DEMO_PASSWORD,
            reason="Site master data reviewed at go-live",
        )
    return [(ADMIN.username, DEMO_PASSWORD, ADMIN.role.label, ADMIN.site)] + [
        (u.username, DEMO_PASSWORD, u.role.label, u.site) for u in USERS
    ]
