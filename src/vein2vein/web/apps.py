from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "vein2vein.web"
    label = "web"
    verbose_name = "Web shell: navigation, dashboard, static assets"
