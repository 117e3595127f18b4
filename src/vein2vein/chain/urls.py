from django.urls import path

from . import views

app_name = "chain"
urlpatterns = [
    path("", views.order_list, name="order_list"),
    path("orders/new/", views.order_create, name="order_create"),
    path("orders/<int:order_id>/", views.order_detail, name="order_detail"),
    path("orders/<int:order_id>/book/", views.order_book, name="order_book"),
    path("orders/<int:order_id>/collect/", views.order_collect, name="order_collect"),
    path("orders/<int:order_id>/label/", views.order_label, name="order_label"),
    path(
        "orders/<int:order_id>/instructions/",
        views.order_instructions,
        name="order_instructions",
    ),
    path("orders/<int:order_id>/handoff/", views.order_handoff, name="order_handoff"),
    path("orders/<int:order_id>/receive/", views.order_receive, name="order_receive"),
    path(
        "orders/<int:order_id>/receipt/disposition/",
        views.receipt_disposition,
        name="receipt_disposition",
    ),
    path("orders/<int:order_id>/cancel/", views.order_cancel, name="order_cancel"),
    path("receive/", views.goods_in, name="goods_in"),
    path("calendar/", views.capacity_calendar, name="capacity_calendar"),
    path("patients/", views.patient_list, name="patient_list"),
    path("patients/new/", views.patient_create, name="patient_create"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient_detail"),
    path("patients/<int:patient_id>/correct/", views.patient_correct, name="patient_correct"),
    path("products/", views.product_list, name="product_list"),
    path("products/new/", views.product_create, name="product_create"),
    path("products/<int:product_id>/edit/", views.product_edit, name="product_edit"),
]
