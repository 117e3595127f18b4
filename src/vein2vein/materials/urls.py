from django.urls import path

from . import views

app_name = "materials"
urlpatterns = [
    path("", views.index, name="lot_list"),
    path("lots/receive/", views.lot_receive, name="lot_receive"),
    path("lots/<int:lot_id>/", views.lot_detail, name="lot_detail"),
    path("lots/<int:lot_id>/coa/", views.lot_coa, name="lot_coa"),
    path("lots/<int:lot_id>/<slug:step>/", views.lot_step, name="lot_step"),
    path("materials/", views.material_list, name="material_list"),
    path("materials/new/", views.material_create, name="material_create"),
    path("materials/<int:material_id>/", views.material_detail, name="material_detail"),
    path("materials/<int:material_id>/edit/", views.material_edit, name="material_edit"),
    path(
        "materials/<int:material_id>/suppliers/<int:supplier_id>/remove/",
        views.material_supplier_remove,
        name="material_supplier_remove",
    ),
    path("suppliers/", views.supplier_list, name="supplier_list"),
    path("suppliers/new/", views.supplier_create, name="supplier_create"),
    path("suppliers/<int:supplier_id>/", views.supplier_detail, name="supplier_detail"),
    path("suppliers/<int:supplier_id>/status/", views.supplier_status, name="supplier_status"),
    path("reports/fefo/", views.fefo_report, name="fefo"),
    path("reports/stock/", views.low_stock_report, name="low_stock"),
    path("reports/expiring/", views.expiring_report, name="expiring"),
    path("kits/", views.kit_list, name="kit_list"),
    path("kits/new/", views.kit_create, name="kit_create"),
    path("kits/<int:kit_id>/", views.kit_detail, name="kit_detail"),
    path("import/", views.import_lots, name="import_lots"),
    path("import/template.csv", views.import_template, name="import_template"),
]
