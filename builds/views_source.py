from django.http import Http404


def _unwritten(*args, **kwargs):
    raise Http404


source = disconnect = _unwritten
