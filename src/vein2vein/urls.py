from django.contrib import admin
from django.urls import include, path, re_path

from .api import api, unknown_route

urlpatterns = [
    path("", include("vein2vein.web.urls")),
    path("", include("vein2vein.core.urls")),
    path("quality/", include("vein2vein.quality.urls")),
    path("documents/", include("vein2vein.documents.urls")),
    path("training/", include("vein2vein.training.urls")),
    path("materials/", include("vein2vein.materials.urls")),
    path("equipment/", include("vein2vein.equipment.urls")),
    path("chain/", include("vein2vein.chain.urls")),
    path("manufacturing/", include("vein2vein.manufacturing.urls")),
    path("qc/", include("vein2vein.qc.urls")),
    path("release/", include("vein2vein.release.urls")),
    path("api/v1/", api.urls),
    re_path(r"^api/v1/(?P<rest>.*)$", unknown_route),
    path("admin/", admin.site.urls),
]
