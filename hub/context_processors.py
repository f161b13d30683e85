from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict:
    return {
        "HUB_NAME": settings.HUB_NAME,
        "REGISTRY_HOST": settings.REGISTRY_HOST,
        "GITHUB_LINKING_ENABLED": settings.GITHUB_LINKING_ENABLED,
    }
