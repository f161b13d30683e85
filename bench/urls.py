"""hub.urls plus `/bench/ok`, a Django view that only answers 200: the baseline that the
token endpoint is compared with (same server, same middleware, same run)."""

from django.db import transaction
from django.http import HttpResponse
from django.urls import include, path


@transaction.non_atomic_requests  # as the token view: no transaction, no database at all
def ok(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/ok", ok), path("", include("hub.urls"))]
