from django.urls import path

from . import views

app_name = "quality"
urlpatterns = [
    path("", views.deviation_list, name="deviation_list"),
    path("deviations/new/", views.deviation_create, name="deviation_create"),
    path("deviations/<int:pk>/", views.deviation_detail, name="deviation_detail"),
    path("deviations/<int:pk>/<slug:step>/", views.deviation_step, name="deviation_step"),
    path("deviation-links/<int:pk>/<slug:step>/", views.link_step, name="link_step"),
    path("capa/", views.capa_list, name="capa_list"),
    path("capa/new/", views.capa_create, name="capa_create"),
    path("capa/<int:pk>/", views.capa_detail, name="capa_detail"),
    path("capa/<int:pk>/<slug:step>/", views.capa_step, name="capa_step"),
    path("capa-actions/<int:pk>/<slug:step>/", views.action_step, name="action_step"),
    path("capa-checks/<int:pk>/<slug:step>/", views.check_step, name="check_step"),
    path("changes/", views.change_list, name="change_list"),
    path("changes/new/", views.change_create, name="change_create"),
    path("changes/<int:pk>/", views.change_detail, name="change_detail"),
    path("changes/<int:pk>/<slug:step>/", views.change_step, name="change_step"),
    path("change-tasks/<int:pk>/<slug:step>/", views.task_step, name="task_step"),
    path("overdue/", views.overdue_report, name="overdue"),
]
