from django.urls import path

from . import views, views_source, webhooks

app_name = "builds"

BUILDS = "r/<str:namespace>/<path:name>/builds/"

urlpatterns = [
    path("webhooks/github", webhooks.github_webhook, name="github-webhook"),
    path(BUILDS, views.builds, name="builds"),
    path(f"{BUILDS}badge.svg", views.badge, name="badge"),
    path(f"{BUILDS}source/", views_source.source, name="source"),
    path(f"{BUILDS}source/disconnect/", views_source.disconnect, name="source-disconnect"),
    path(f"{BUILDS}rules/new/", views.rule_create, name="rule-create"),
    path(f"{BUILDS}rules/<int:rule_id>/", views.rule_edit, name="rule-edit"),
    path(f"{BUILDS}rules/<int:rule_id>/delete/", views.rule_delete, name="rule-delete"),
    path(f"{BUILDS}rules/<int:rule_id>/trigger/", views.rule_trigger, name="rule-trigger"),
    path(f"{BUILDS}<int:build_id>/", views.build_detail, name="build"),
    path(f"{BUILDS}<int:build_id>/log/", views.build_log, name="build-log"),
    path(f"{BUILDS}<int:build_id>/cancel/", views.build_cancel, name="build-cancel"),
]
