"""factory_boy factories for core rows. Set-up only: code under test writes through services."""

from __future__ import annotations

import factory
from django.utils import timezone

from tests.conftest import PASSWORD
from vein2vein.core.choices import Role
from vein2vein.core.models import RoleAssignment, Site, User


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"SITE-{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Site {o.code}")
    kind = "manufacturing"
    time_zone = "Europe/Madrid"
    fin = ""


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.LazyAttribute(lambda o: f"{o.username.title()} Example")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            obj.save()


def grant(user: User, role: Role | str, site: Site) -> RoleAssignment:
    return RoleAssignment.objects.create(
        user=user, site=site, role=str(role), granted_at=timezone.now()
    )
