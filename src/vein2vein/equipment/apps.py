from django.apps import AppConfig


class EquipmentConfig(AppConfig):
    name = "vein2vein.equipment"
    label = "equipment"
    verbose_name = "Equipment: calibration, maintenance, qualification, usage"
