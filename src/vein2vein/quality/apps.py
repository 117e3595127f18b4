from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "vein2vein.quality"
    label = "quality"
    verbose_name = "Quality: deviations, CAPA, change control"
