from django.urls import path

from . import views

app_name = "documents"
urlpatterns = [
    path("", views.index, name="document_list"),
    path("new/", views.document_create, name="document_create"),
    path("reviews/overdue/", views.overdue_reviews, name="overdue_reviews"),
    path("versions/<int:version_id>/", views.version_detail, name="version_detail"),
    path("versions/<int:version_id>/file/", views.version_file, name="version_file"),
    path("versions/<int:version_id>/edit/", views.version_edit, name="version_edit"),
    path("versions/<int:version_id>/submit/", views.version_submit, name="version_submit"),
    path("versions/<int:version_id>/return/", views.version_return, name="version_return"),
    path("versions/<int:version_id>/review/", views.version_review, name="version_review"),
    path("versions/<int:version_id>/approve/", views.version_approve, name="version_approve"),
    path(
        "versions/<int:version_id>/effective/",
        views.version_make_effective,
        name="version_make_effective",
    ),
    path("versions/<int:version_id>/obsolete/", views.version_obsolete, name="version_obsolete"),
    path(
        "versions/<int:version_id>/periodic-review/",
        views.version_periodic_review,
        name="version_periodic_review",
    ),
    path("<str:number>/", views.document_detail, name="document_detail"),
    path("<str:number>/versions/new/", views.version_create, name="version_create"),
    path("<str:number>/obsolete/", views.document_obsolete, name="document_obsolete"),
]
