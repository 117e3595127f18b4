from django.apps import AppConfig


class ChainConfig(AppConfig):
    name = "vein2vein.chain"
    label = "chain"
    verbose_name = "Chain of identity and custody"
