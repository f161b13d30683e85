"""What happened in a namespace: recorded here, shown on the repository and organization
activity pages and at /v2/auditlogs/<account> (Docker Hub's audit log).

Each place that changes something calls `record` once, in the same transaction as the change.
The data values are strings, as in Docker Hub's audit log.
"""

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from accounts.models import Namespace, User

from .models import Activity, Repository

if TYPE_CHECKING:
    from orgs.models import Team

Action = Activity.Action

# Docker Hub's groups of audit log actions (/v2/auditlogs/<account>/actions).
REPOSITORY_ACTIONS = (
    Action.REPO_CREATED,
    Action.REPO_PUSHED,
    Action.TAG_DELETED,
    Action.VISIBILITY_CHANGED,
    Action.PERMISSIONS_CHANGED,
    Action.REPO_RENAMED,
    Action.REPO_DELETED,
)
ORGANIZATION_ACTIONS = (
    Action.MEMBER_ADDED,
    Action.MEMBER_REMOVED,
    Action.TEAM_CREATED,
    Action.TEAM_DELETED,
)


def record(
    action: Action,
    *,
    namespace: Namespace,
    repository: Repository | None = None,
    actor: User | None = None,
    **data: object,
) -> Activity:
    """Record that `actor` (None: the system, or someone unknown) did `action` in `namespace`,
    on `repository` if it is about one. Keys of `data` by action:

    - repo.tag.push: tag, digest · repo.tag.delete: tag (digest)
    - repo.change_privacy: visibility ("public" or "private")
    - repo.permissions: change ("added", "changed" or "removed") with team and permission
      (organizations) or collaborator (user repositories)
    - repo.rename: from, to (full names; recorded in the new namespace)
    - team.create, team.delete: team · team.member.add, team.member.remove: team, member
    """
    if actor is not None and not actor.is_authenticated:
        actor = None
    return Activity.objects.create(
        namespace=namespace,
        repository=repository,
        object_name=repository.full_name if repository else namespace.name,
        action=action,
        actor=actor,
        data={key: str(value) for key, value in data.items()},
    )


def record_team(
    action: Action, team: "Team", *, actor: User | None, member: User | None = None
) -> Activity:
    """A team created or deleted, or a member added to it or removed from it."""
    data = {"team": team.name} | ({"member": member.username} if member else {})
    return record(action, namespace=team.organization.namespace, actor=actor, **data)


def describe(activity: Activity) -> str:
    """What happened, without who did it: "pushed the tag latest to the repository acme/app"."""
    data, name = activity.data, activity.object_name
    repository = f"the repository {name}"
    match activity.action:
        case Action.REPO_CREATED:
            return f"created {repository}"
        case Action.REPO_PUSHED:
            digest = f" with the digest {data['digest']}" if data.get("digest") else ""
            return f"pushed the tag {data.get('tag', '')}{digest} to {repository}"
        case Action.TAG_DELETED:
            return f"deleted the tag {data.get('tag', '')} from {repository}"
        case Action.VISIBILITY_CHANGED:
            return f"made {repository} {data.get('visibility', '')}"
        case Action.PERMISSIONS_CHANGED:
            return _describe_permission(data, repository)
        case Action.REPO_RENAMED:
            return f"renamed the repository {data.get('from', '')} to {name}"
        case Action.REPO_DELETED:
            return f"deleted {repository}"
        case Action.MEMBER_ADDED:
            return f"added {data.get('member', '')} to the team {data.get('team', '')}"
        case Action.MEMBER_REMOVED:
            return f"removed {data.get('member', '')} from the team {data.get('team', '')}"
        case Action.TEAM_CREATED:
            return f"created the team {data.get('team', '')}"
        case Action.TEAM_DELETED:
            return f"deleted the team {data.get('team', '')}"
    return activity.get_action_display()


def _describe_permission(data: dict, repository: str) -> str:
    change = data.get("change")
    if "collaborator" in data:
        who = data["collaborator"]
        if change == "removed":
            return f"removed the collaborator {who} from {repository}"
        return f"added {who} as a collaborator on {repository}"
    team = f"the team {data.get('team', '')}"
    if change == "removed":
        return f"took the permission of {team} on {repository} away"
    return f"gave {team} {data.get('permission', '')} on {repository}"


def for_repository(repository: Repository) -> QuerySet[Activity]:
    """Everything recorded about a repository, under whatever name it had, newest first."""
    return Activity.objects.filter(repository=repository).select_related("actor")


def for_namespace(
    namespace: Namespace, *, visible: Collection[int] | None = None
) -> QuerySet[Activity]:
    """Everything recorded in a namespace, newest first. With `visible` (repository ids),
    only the events of those repositories and the ones about no repository (teams and
    members): events of a deleted repository, whose privacy is no longer known, are left out."""
    activity = Activity.objects.filter(namespace=namespace).select_related("actor")
    if visible is not None:
        about_repository = Q(action__in=REPOSITORY_ACTIONS)
        activity = activity.filter(~about_repository | Q(repository_id__in=visible))
    return activity


def with_descriptions(page: Iterable[Activity]) -> list[Activity]:
    """The rows with `description` set, for the activity list template."""
    rows = list(page)
    for row in rows:
        row.description = describe(row)
    return rows
