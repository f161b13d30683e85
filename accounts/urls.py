from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "accounts"

urlpatterns = [
    path("u/<str:username>/", views.profile, name="profile"),
    path("settings/", RedirectView.as_view(pattern_name="accounts:settings-profile")),
    path("settings/profile/", views.settings_profile, name="settings-profile"),
    path("settings/security/", views.settings_security, name="settings-security"),
    path("settings/linked-accounts/", views.settings_linked_accounts, name="settings-linked"),
    path("accounts/verification/resend/", views.resend_verification, name="resend-verification"),
]
