from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from repos.models import Repository


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "hub/landing.html")
    repositories = (
        Repository.objects.active()
        .filter(namespace__name=request.user.username)
        .select_related("namespace")
        .annotate(tag_count=Count("tags"))
        .order_by("-last_pushed", "name")
    )
    return render(request, "hub/dashboard.html", {"repositories": repositories})
