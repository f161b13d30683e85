from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Namespace, User


@admin.register(User)
class DockyardUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (
        ("Profile", {"fields": ("full_name", "company", "location", "website", "bio")}),
    )
    list_display = ("username", "email", "full_name", "is_staff", "date_joined")


@admin.register(Namespace)
class NamespaceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "created")
    list_filter = ("kind",)
    search_fields = ("name",)
