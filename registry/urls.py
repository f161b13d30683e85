from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("token", views.token, name="token"),
    path("registry/events", views.events, name="events"),
]
