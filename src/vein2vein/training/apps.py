from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "vein2vein.training"
    label = "training"
    verbose_name = "Training and qualification"

    def ready(self) -> None:
        # Receivers of the events lower apps emit (core/hooks.py), e.g. a new effective
        # document version assigns read-and-understood training.
        from . import receivers  # noqa: F401
