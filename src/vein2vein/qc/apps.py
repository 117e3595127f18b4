from django.apps import AppConfig


class QcConfig(AppConfig):
    name = "vein2vein.qc"
    label = "qc"
    verbose_name = "QC testing: samples, methods, specifications, results, instrument imports"
