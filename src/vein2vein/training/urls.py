from django.urls import path, re_path

from . import views

app_name = "training"
urlpatterns = [
    path("", views.index, name="my_training"),
    path("people/<int:user_id>/", views.person, name="person"),
    path("matrix/", views.matrix, name="matrix"),
    path("sync/", views.sync, name="sync"),
    path("assignments/", views.assignment_list, name="assignment_list"),
    path("assignments/<int:assignment_id>/", views.assignment_detail, name="assignment_detail"),
    path("assignments/<int:assignment_id>/sign/", views.assignment_sign, name="assignment_sign"),
    path(
        "assignments/<int:assignment_id>/sign-off/",
        views.assignment_sign_off,
        name="assignment_sign_off",
    ),
    path("curricula/", views.curriculum_list, name="curriculum_list"),
    path("curricula/new/", views.curriculum_create, name="curriculum_create"),
    path("curricula/<int:curriculum_id>/", views.curriculum_detail, name="curriculum_detail"),
    path(
        "curricula/<int:curriculum_id>/documents/",
        views.curriculum_add_document,
        name="curriculum_add_document",
    ),
    path(
        "curricula/<int:curriculum_id>/qualifications/",
        views.curriculum_add_qualification,
        name="curriculum_add_qualification",
    ),
    path(
        "curricula/items/<int:item_id>/remove/",
        views.curriculum_item_remove,
        name="curriculum_item_remove",
    ),
    path("qualification-types/", views.type_list, name="type_list"),
    path("qualification-types/new/", views.type_create, name="type_create"),
    re_path(
        r"^qualification-types/(?P<code>[A-Z0-9][A-Z0-9-]{1,39})/edit/$",
        views.type_edit,
        name="type_edit",
    ),
    path("qualifications/", views.qualification_list, name="qualification_list"),
    path("qualifications/grant/", views.qualification_grant, name="qualification_grant"),
    path(
        "qualifications/<int:qualification_id>/",
        views.qualification_detail,
        name="qualification_detail",
    ),
    path(
        "qualifications/<int:qualification_id>/revoke/",
        views.qualification_revoke,
        name="qualification_revoke",
    ),
]
