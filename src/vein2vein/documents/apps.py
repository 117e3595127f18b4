from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "vein2vein.documents"
    label = "documents"
    verbose_name = "Controlled documents"
