from django.urls import path

from . import views

app_name = "equipment"
urlpatterns = [
    path("", views.index, name="equipment_list"),
    path("new/", views.create, name="create"),
    path("due/", views.due_report, name="due"),
    path("qualifications/<int:pk>/approve/", views.approve_qualification, name="approve"),
    path("plans/<int:pk>/interval/", views.change_interval, name="interval"),
    path("records/<int:pk>/impact/", views.impact, name="impact"),
    path("records/<int:pk>/certificate/", views.certificate, name="certificate"),
    path("usages/<int:pk>/end/", views.end_usage, name="end_usage"),
    path("<str:tag>/", views.detail, name="detail"),
    path("<str:tag>/edit/", views.edit, name="edit"),
    path("<str:tag>/status/", views.change_status, name="status"),
    path("<str:tag>/qualifications/new/", views.add_qualification, name="add_qualification"),
    path("<str:tag>/plans/new/", views.add_plan, name="add_plan"),
    path("<str:tag>/records/new/", views.record_service, name="record_service"),
    path("<str:tag>/usages/new/", views.start_usage, name="start_usage"),
]
