from django.urls import path

from . import views

app_name = "release"
urlpatterns = [
    path("", views.awaiting, name="awaiting"),
    path("batches/<int:batch_id>/", views.batch_release, name="batch_release"),
    path("batches/<int:batch_id>/certificate/", views.issue_certificate, name="issue_certificate"),
    path(
        "batches/<int:batch_id>/certificate.pdf",
        views.download_certificate,
        name="certificate_pdf",
    ),
    path("notices/", views.notices, name="notices"),
]
