from django.contrib import admin

from .models import Repository, Tag


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    list_display = ("__str__", "is_private", "state", "last_pushed", "pull_count")
    list_filter = ("is_private", "state")
    search_fields = ("namespace__name", "name")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("__str__", "pushed_at", "pushed_by")
    search_fields = ("repository__name", "name")
