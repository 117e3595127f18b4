from django.apps import AppConfig


class ManufacturingConfig(AppConfig):
    name = "vein2vein.manufacturing"
    label = "manufacturing"
    verbose_name = "Electronic batch records"

    def ready(self) -> None:
        from vein2vein.core import hooks

        from . import permissions  # noqa: F401 - the permission map is complete at start-up
        from .services.master_records import on_version_submitted

        hooks.on(hooks.DOCUMENT_VERSION_SUBMITTED)(on_version_submitted)
