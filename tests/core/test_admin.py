"""The Django admin shows every GMP table and changes none (the services are the only writers)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import RequestFactory

from vein2vein.core.admin import ReadOnlyAdmin

DOMAIN_APPS = [
    "core",
    "documents",
    "training",
    "quality",
    "materials",
    "equipment",
    "chain",
    "manufacturing",
]


@pytest.mark.parametrize("app_label", DOMAIN_APPS)
def test_every_table_is_in_the_admin_read_only(app_label: str, admin_user) -> None:  # type: ignore[no-untyped-def]
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    for model in apps.get_app_config(app_label).get_models():
        model_admin = admin.site._registry.get(model)
        assert model_admin is not None, f"{model._meta.label} is not in the admin"
        assert isinstance(model_admin, ReadOnlyAdmin), model._meta.label
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)


def test_an_inspector_browses_every_table(client, inspector) -> None:  # type: ignore[no-untyped-def]
    client.force_login(inspector)
    for model in admin.site._registry:
        if model._meta.app_label not in DOMAIN_APPS:
            continue
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = client.get(url)
        assert response.status_code == 200, url
