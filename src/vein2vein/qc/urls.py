from django.urls import path  # noqa: F401 - the pages are added with their views

app_name = "qc"
urlpatterns: list = []
