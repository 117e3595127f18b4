from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CoreConfig(AppConfig):
    default = True
    name = "vein2vein.core"
    label = "core"
    verbose_name = "Core: sites, users, audit trail, signatures"


class AdminConfig(admin_apps.AdminConfig):
    default = False
    """The Django admin, read-only for GMP records, open to admin, QA and inspector roles."""

    default_site = "vein2vein.core.admin_site.ReadOnlyAdminSite"
