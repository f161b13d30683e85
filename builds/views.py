from django.http import Http404


def _unwritten(*args, **kwargs):
    raise Http404


builds = badge = rule_create = rule_edit = rule_delete = rule_trigger = _unwritten
build_detail = build_log = build_cancel = _unwritten
