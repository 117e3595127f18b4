from django.urls import path

from . import views

app_name = "qc"
urlpatterns = [
    path("", views.index, name="index"),
    path("worklist/", views.worklist, name="worklist"),
    path("results/", views.results, name="results"),
    path("oos/", views.oos_list, name="oos_list"),
    path("methods/", views.methods, name="methods"),
    path("methods/<int:method_id>/", views.method, name="method"),
    path("specifications/", views.specifications, name="specs"),
    path("specifications/<int:spec_id>/", views.specification, name="spec"),
    path(
        "specifications/<int:spec_id>/approve/",
        views.approve_specification,
        name="spec_approve",
    ),
    path("batches/<int:batch_id>/", views.batch, name="batch"),
    path("batches/<int:batch_id>/samples/new/", views.register_sample, name="sample_new"),
    path("samples/<int:sample_id>/", views.sample, name="sample"),
    path("samples/<int:sample_id>/aliquot/", views.aliquot, name="aliquot"),
    path("samples/<int:sample_id>/ship/", views.ship, name="ship"),
    path("samples/<int:sample_id>/results/new/", views.enter_result, name="result_new"),
    path("samples/<int:sample_id>/flow/", views.flow_upload, name="flow_upload"),
    path("shipments/<int:shipment_id>/receive/", views.receive, name="receive"),
    path("results/<int:result_id>/", views.result, name="result"),
    path("results/<int:result_id>/review/", views.review, name="review"),
    path(
        "results/<int:result_id>/invalidate/",
        views.request_invalidation,
        name="request_invalidation",
    ),
    path(
        "results/<int:result_id>/invalidate/approve/",
        views.approve_invalidation,
        name="approve_invalidation",
    ),
    path("results/<int:result_id>/file/", views.result_file, name="result_file"),
    path("results/<int:result_id>/plot.png", views.result_plot, name="result_plot"),
    path("oos/<int:oos_id>/phase-i/", views.phase_i, name="phase_i"),
    path("oos/<int:oos_id>/phase-ii/", views.phase_ii, name="phase_ii"),
    path("import/counter/", views.counter_upload, name="counter_upload"),
    path("import/counter/assign/", views.counter_assign, name="counter_assign"),
]
