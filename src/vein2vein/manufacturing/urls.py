from django.urls import path

from . import views

app_name = "manufacturing"
urlpatterns = [
    path("", views.batch_list, name="batch_list"),
    path("batches/start/", views.batch_start, name="batch_start"),
    path("batches/<int:batch_id>/", views.batch_detail, name="batch_detail"),
    path("batches/<int:batch_id>/steps/<str:step_key>/", views.step_record, name="step_record"),
    path("batches/<int:batch_id>/hold/", views.batch_hold, name="batch_hold"),
    path("batches/<int:batch_id>/resume/", views.batch_resume, name="batch_resume"),
    path("batches/<int:batch_id>/complete/", views.batch_complete, name="batch_complete"),
    path("batches/<int:batch_id>/abort/", views.batch_abort, name="batch_abort"),
    path("batches/<int:batch_id>/review/", views.batch_review, name="batch_review"),
    path("batches/<int:batch_id>/samples/", views.batch_samples, name="batch_samples"),
    path("batches/<int:batch_id>/record.pdf", views.batch_pdf, name="batch_pdf"),
    path("entries/<int:entry_id>/verify/", views.entry_verify, name="entry_verify"),
    path("entries/<int:entry_id>/correct/", views.entry_correct, name="entry_correct"),
    path("mbr/", views.mbr_list, name="mbr_list"),
    path("mbr/new/", views.mbr_author, name="mbr_author"),
    path("mbr/schema.json", views.mbr_schema, name="mbr_schema"),
    path("mbr/<int:mbr_id>/", views.mbr_detail, name="mbr_detail"),
    path("mbr/<int:mbr_id>/yaml/", views.mbr_yaml, name="mbr_yaml"),
]
