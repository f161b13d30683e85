from django.contrib import admin

from .models import Build, BuildSource


@admin.register(BuildSource)
class BuildSourceAdmin(admin.ModelAdmin):
    list_display = ("__str__", "connected_by", "created")
    search_fields = ("github_full_name", "repository__name", "repository__namespace__name")
    exclude = ("webhook_secret",)


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "source_ref", "commit", "created", "finished")
    list_filter = ("status", "trigger")
    search_fields = ("repository__name", "repository__namespace__name", "commit")
    readonly_fields = ("log",)
