from django.apps import AppConfig


class MaterialsConfig(AppConfig):
    name = "vein2vein.materials"
    label = "materials"
    verbose_name = "Materials: material master, suppliers, lots, inventory, kits"
