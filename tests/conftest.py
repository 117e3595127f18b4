"""Shared fixtures. Factories write set-up rows directly; the code under test uses services."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from vein2vein.core.choices import Role
from vein2vein.core.models import Site, User

PASSWORD = "Correct-horse-42!"

IN_CI = os.environ.get("CI") == "true"


def _flush_past_the_audit_triggers() -> None:
    """Transactional tests end with Django's flush, which the audit table's append-only
    triggers refuse (that is their job). For the test database only, the flush steps past
    them and puts them back; `vein2vein flush` stays refused (cli.py)."""
    from django.db.backends.postgresql.base import DatabaseOperations as PgOps
    from django.db.backends.sqlite3.base import DatabaseOperations as SqliteOps

    from vein2vein.core.migrations import _audit_triggers as triggers

    for ops, before, after in (
        (SqliteOps, triggers.SQLITE_DROP, triggers.SQLITE_CREATE),
        (PgOps, triggers.PG_SUSPEND, triggers.PG_RESUME),
    ):
        original = ops.sql_flush

        def sql_flush(self, style, tables, *a, _o=original, _b=before, _a=after, **kw):  # type: ignore[no-untyped-def]
            statements = _o(self, style, tables, *a, **kw)
            if "core_auditevent" not in tables or not statements:
                return statements
            return [*_b, *statements, *_a]

        ops.sql_flush = sql_flush  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    _flush_past_the_audit_triggers()
    # Argon2 is the production hasher (tests/core/test_settings.py proves it); MD5 keeps the
    # suite fast where a test only needs *a* password.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # Each test's checkpoints copy goes with its database: a rolled-back test leaves none.
    settings.AUDIT_CHECKPOINT_LOG = str(tmp_path / "audit_checkpoints.jsonl")


@pytest.fixture
def make_site(db):  # type: ignore[no-untyped-def]
    from tests.core.factories import SiteFactory

    return SiteFactory


@pytest.fixture
def site(db) -> Site:  # type: ignore[no-untyped-def]
    from tests.core.factories import SiteFactory

    return SiteFactory(code="MFG-TEST", kind="manufacturing", time_zone="Europe/Madrid")


@pytest.fixture
def make_user(db, site):  # type: ignore[no-untyped-def]
    """make_user(role, site=None, **fields) -> a user holding `role` at `site`."""
    from tests.core.factories import UserFactory, grant

    def make(role: Role | str | None = None, at: Site | None = None, **fields: object) -> User:
        user = UserFactory(**fields)
        if role is not None:
            grant(user, role, at or site)
        return user

    return make


@pytest.fixture
def admin_user(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.ADMIN, username="admin1")


@pytest.fixture
def operator(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.OPERATOR, username="operator1", full_name="Olivia Operator")


@pytest.fixture
def qa_reviewer(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.QA_REVIEWER, username="qa1", full_name="Rita Reviewer")


@pytest.fixture
def inspector(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user(Role.INSPECTOR, username="inspector1")


@pytest.fixture
def reviewable_site(site, admin_user) -> Site:  # type: ignore[no-untyped-def]
    """The test site after an administrator edited its master data: a second person may then
    review it (its performer, the last editor, is known)."""
    from vein2vein.core import services

    return services.update_site(
        actor=admin_user, site_id=site.pk, reason="master data entered", address="1 Test Street"
    )
