from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", views.password_change, name="password_change"),
    path("accounts/tokens/", views.my_tokens, name="my_tokens"),
    path("accounts/tokens/<str:prefix>/revoke/", views.my_token_revoke, name="my_token_revoke"),
    path("site/switch/", views.switch_site, name="switch_site"),
    path("sites/", views.site_list, name="site_list"),
    path("sites/new/", views.site_create, name="site_create"),
    path("sites/<int:site_id>/", views.site_detail, name="site_detail"),
    path("sites/<int:site_id>/edit/", views.site_edit, name="site_edit"),
    path("sites/<int:site_id>/active/", views.site_toggle_active, name="site_toggle_active"),
    path("users/", views.user_list, name="user_list"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:user_id>/", views.user_detail, name="user_detail"),
    path("roles/<int:assignment_id>/revoke/", views.role_revoke, name="role_revoke"),
    path("audit/", views.audit_trail, name="audit"),
    path("audit/verify/", views.audit_verify, name="audit_verify"),
    path("sign/", views.sign, name="sign"),
]
