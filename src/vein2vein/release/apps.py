from django.apps import AppConfig


class ReleaseConfig(AppConfig):
    name = "vein2vein.release"
    label = "release"
    verbose_name = "Release: readiness, disposition, certificate of analysis"
