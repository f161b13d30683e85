from django.urls import path, re_path
from django.views.generic import RedirectView

from . import views

app_name = "accounts"

urlpatterns = [
    path("u/<str:username>/", views.profile, name="profile"),
    path("settings/", RedirectView.as_view(pattern_name="accounts:settings-profile")),
    path("settings/profile/", views.settings_profile, name="settings-profile"),
    path("settings/security/", views.settings_security, name="settings-security"),
    re_path(
        r"^settings/security/tokens/(?P<token_uuid>[0-9a-f-]{36})/"
        r"(?P<action>delete|activate|deactivate)/$",
        views.access_token_action,
        name="access-token-action",
    ),
    path("settings/linked-accounts/", views.settings_linked_accounts, name="settings-linked"),
    path("accounts/verification/resend/", views.resend_verification, name="resend-verification"),
]
