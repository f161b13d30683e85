from django.http import Http404


def github_webhook(*args, **kwargs):
    raise Http404
