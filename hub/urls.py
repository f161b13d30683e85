from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("accounts.urls")),
    path("", include("accounts.api_urls")),
    path("", include("registry.urls")),
    path("", include("repos.urls_v1")),
    path("", include("repos.api_search_urls")),
    path("", include("orgs.urls")),
    path("", include("builds.urls")),
    path("", include("repos.urls")),
    path("", include("orgs.api_urls")),
    path("", include("repos.api_audit")),
    path("", include("repos.api_urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
