from django.urls import path

from . import views

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("areas/<slug:slug>/", views.area, name="area"),
    path("health/", views.health, name="health"),
]
