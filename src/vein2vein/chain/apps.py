from django.apps import AppConfig


class ChainConfig(AppConfig):
    name = "vein2vein.chain"
    label = "chain"
    verbose_name = "Chain of identity and custody"

    def ready(self) -> None:
        from vein2vein.core.privacy import register_personal_fields

        from . import permissions  # noqa: F401 - the permission map is complete at start-up
        from .selectors import may_see_patient

        register_personal_fields(
            "chain.patient",
            ("site_patient_id", "given_name", "family_name", "date_of_birth"),
            may_see_patient,
        )
