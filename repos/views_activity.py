"""The activity page of a repository (for whoever may pull it), and the list both activity
pages share (the organization's page is orgs.views.org_activity)."""

from collections.abc import Sequence

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .access import Principal
from .activity import REPOSITORY_ACTIONS, for_repository, with_descriptions
from .models import Activity, Repository
from .views_pages import repository_header, repository_page

PER_PAGE = 50


def activity_list(
    request: HttpRequest, activity: QuerySet[Activity], actions: Sequence[Activity.Action]
) -> dict:
    """Context for repos/_activity_list.html: a page of `activity`, newest first, narrowed to
    one of `actions` by ?action=."""
    action = request.GET.get("action", "")
    if action in actions:
        activity = activity.filter(action=action)
    else:
        action = ""
    page = Paginator(activity, PER_PAGE).get_page(request.GET.get("page"))
    return {
        "page": page,
        "entries": with_descriptions(page),
        "actions": [(choice.value, choice.label) for choice in actions],
        "action": action,
    }


@repository_page
def repository_activity(
    request: HttpRequest, principal: Principal, repository: Repository
) -> HttpResponse:
    context = {
        **repository_header(request, principal, repository, "activity"),
        **activity_list(request, for_repository(repository), REPOSITORY_ACTIONS),
    }
    return render(request, "repos/activity.html", context)
