"""Organization pages. Every lookup goes through a `_get_…` helper that answers 404 for what
the user may not see and says whether they may manage it; views refuse writes with 403."""

import logging
from collections import defaultdict

from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import User
from repos.access import (
    Permission,
    Principal,
    can_create_in,
    can_manage_organization,
    repository_permissions,
)
from repos.activity import for_namespace, record, record_team
from repos.deletion import delete_repository
from repos.models import Activity, Repository
from repos.views_activity import activity_list

from .forms import (
    AddMemberForm,
    ConfirmNameForm,
    InviteForm,
    OrganizationCreateForm,
    OrganizationProfileForm,
    RepositoryDefaultsForm,
    TeamForm,
    TeamPermissionForm,
)
from .invitations import send_invitation
from .models import OWNERS_TEAM, Invitation, Organization, Team, TeamMembership

log = logging.getLogger(__name__)


def _principal(request: HttpRequest) -> Principal:
    return Principal(user=request.user if request.user.is_authenticated else None)


def _is_member(user, organization: Organization) -> bool:
    return user.is_authenticated and organization.teams.filter(members=user).exists()


def _find_organization(name: str) -> Organization:
    return get_object_or_404(Organization.objects.select_related("namespace"), namespace__name=name)


def _get_organization(request: HttpRequest, name: str) -> tuple[Organization, bool]:
    """The organization if the user is in one of its teams (or may manage it), and whether
    they may manage it; 404 for everyone else."""
    organization = _find_organization(name)
    can_manage = can_manage_organization(_principal(request), organization)
    if not can_manage and not _is_member(request.user, organization):
        raise Http404("No such organization")
    return organization, can_manage


def _get_team(request: HttpRequest, org_name: str, team_name: str) -> tuple[Team, bool]:
    organization, can_manage = _get_organization(request, org_name)
    team = get_object_or_404(organization.teams, name=team_name)
    team.organization = organization
    return team, can_manage


def _leaves_no_owner(organization: Organization, users: list[User]) -> bool:
    """Would removing these users from the owners team leave it without an active member?"""
    owners = TeamMembership.objects.select_for_update().filter(
        team__organization=organization, team__name=OWNERS_TEAM
    )
    if not owners.filter(user__in=users).exists():
        return False
    return not owners.exclude(user__in=users).filter(user__is_active=True).exists()


LAST_OWNER_MESSAGE = (
    "An organization needs at least one owner: add someone else to the owners team first."
)


# Organizations


@login_required
def org_list(request: HttpRequest) -> HttpResponse:
    mine = Organization.objects.for_user(request.user).values("pk")
    is_owner = TeamMembership.objects.filter(
        team__organization=OuterRef("pk"), team__name=OWNERS_TEAM, user=request.user
    )
    organizations = (
        Organization.objects.filter(pk__in=mine)
        .select_related("namespace")
        .annotate(
            member_count=Count("teams__members", distinct=True),
            team_count=Count("teams", distinct=True),
            is_owner=Exists(is_owner),
        )
        .order_by("namespace__name")
    )
    return render(request, "orgs/list.html", {"organizations": organizations})


@login_required
def org_create(request: HttpRequest) -> HttpResponse:
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                organization = Organization.create(
                    data["name"], request.user, full_name=data["full_name"], email=data["email"]
                )
        except IntegrityError:  # claimed since the form checked
            form.add_error("name", f"'{data['name']}' is already taken by a user or an org.")
        else:
            messages.success(
                request, f"{organization.name} is ready. You are its owner: add teams and members."
            )
            return redirect(organization)
    return render(request, "orgs/create.html", {"form": form})


def org_detail(request: HttpRequest, org_name: str) -> HttpResponse:
    """The public face for everyone; teams, members and private repositories for members."""
    organization = _find_organization(org_name)
    principal = _principal(request)
    can_manage = can_manage_organization(principal, organization)
    is_member = _is_member(request.user, organization)
    candidates = (
        Repository.objects.active()
        .filter(namespace=organization.namespace)
        .select_related("namespace")
        .with_counts()
        .order_by("name")
    )
    repositories = [
        repository
        for repository in candidates
        if Permission.PULL in repository_permissions(principal, repository)
    ]
    context = {
        "organization": organization,
        "can_manage": can_manage,
        "is_member": is_member,
        "repositories": repositories,
        "can_create": can_create_in(principal, organization.namespace),
    }
    if is_member or can_manage:
        teams_of: dict[User, list[Team]] = defaultdict(list)
        memberships = (
            TeamMembership.objects.filter(team__organization=organization)
            .select_related("user", "team")
            .order_by("user__username", "team__name")
        )
        for membership in memberships:
            teams_of[membership.user].append(membership.team)
        context["members"] = [
            (user, teams, any(team.is_owners for team in teams)) for user, teams in teams_of.items()
        ]
        context["teams"] = organization.teams.annotate(member_count=Count("members"))
    return render(request, "orgs/detail.html", context)


@login_required
def org_settings(request: HttpRequest, org_name: str) -> HttpResponse:
    """Three forms on one page; the submit button's name says which one was sent."""
    organization, can_manage = _get_organization(request, org_name)
    if not can_manage:
        raise PermissionDenied("Only owners may change the organization's settings.")
    data = request.POST if request.method == "POST" else None
    profile_form = OrganizationProfileForm(
        data if "save-profile" in request.POST else None, instance=organization
    )
    defaults_form = RepositoryDefaultsForm(
        data if "save-repositories" in request.POST else None, organization=organization
    )
    delete_form = ConfirmNameForm(
        data if "delete" in request.POST else None, expected=organization.name
    )
    if profile_form.is_bound and profile_form.is_valid():
        profile_form.save()
        messages.success(request, "The organization's profile was saved.")
        return redirect("orgs:settings", organization.name)
    if defaults_form.is_bound and defaults_form.is_valid():
        defaults_form.save()
        messages.success(request, "Repository settings were saved.")
        return redirect("orgs:settings", organization.name)
    if delete_form.is_bound and delete_form.is_valid():
        count = _delete_organization(organization)
        removed = f" with its {count} repositor{'y' if count == 1 else 'ies'}" if count else ""
        messages.success(request, f"The organization {organization.name} was deleted{removed}.")
        return redirect("orgs:list")
    context = {
        "organization": organization,
        "can_manage": can_manage,
        "is_member": True,
        "profile_form": profile_form,
        "defaults_form": defaults_form,
        "delete_form": delete_form,
        "repository_count": Repository.objects.active()
        .filter(namespace=organization.namespace)
        .count(),
    }
    return render(request, "orgs/settings.html", context)


def _delete_organization(organization: Organization) -> int:
    """Delete its repositories the way every repository is deleted (hidden at once, emptied
    from the registry by a task), then the organization with its teams.

    The name stays taken while repository rows remain: their clean-up goes by name and would
    take a newcomer's images with it. orgs.signals releases it when the last row goes."""
    namespace = organization.namespace
    repositories = list(Repository.objects.active().filter(namespace=namespace))
    for repository in repositories:
        delete_repository(repository)
    organization.delete()
    if not namespace.repositories.exists():
        namespace.delete()
    return len(repositories)


@login_required
@require_POST
def org_leave(request: HttpRequest, org_name: str) -> HttpResponse:
    organization, _ = _get_organization(request, org_name)
    if _leaves_no_owner(organization, [request.user]):
        messages.error(request, LAST_OWNER_MESSAGE)
        return redirect(organization)
    _remove_memberships(
        request,
        TeamMembership.objects.filter(team__organization=organization, user=request.user),
    )
    messages.success(request, f"You left {organization.name}.")
    return redirect("orgs:list")


@login_required
@require_POST
def org_member_remove(request: HttpRequest, org_name: str, username: str) -> HttpResponse:
    organization, can_manage = _get_organization(request, org_name)
    if not can_manage:
        raise PermissionDenied("Only owners may remove members.")
    memberships = TeamMembership.objects.filter(
        team__organization=organization, user__username=username
    )
    member = get_object_or_404(User, pk__in=memberships.values("user"))
    if _leaves_no_owner(organization, [member]):
        messages.error(request, LAST_OWNER_MESSAGE)
    else:
        _remove_memberships(request, memberships)
        messages.success(request, f"{member.username} is no longer a member of {organization}.")
    return redirect(organization)


def _remove_memberships(request: HttpRequest, memberships) -> None:
    for membership in memberships.select_related("team__organization__namespace", "user"):
        record_team(
            Activity.Action.MEMBER_REMOVED,
            membership.team,
            actor=request.user,
            member=membership.user,
        )
    memberships.delete()


@login_required
def org_activity(request: HttpRequest, org_name: str) -> HttpResponse:
    """Members only. Owners see everything; other members the team and member changes and
    the events of the repositories they may pull."""
    organization, can_manage = _get_organization(request, org_name)
    visible = None
    if not can_manage:
        principal = _principal(request)
        repositories = Repository.objects.active().filter(namespace=organization.namespace)
        visible = [
            repository.pk
            for repository in repositories.select_related("namespace")
            if Permission.PULL in repository_permissions(principal, repository)
        ]
    activity = for_namespace(organization.namespace, visible=visible)
    context = {
        "organization": organization,
        "can_manage": can_manage,
        "is_member": True,
        **activity_list(request, activity, list(Activity.Action)),
    }
    return render(request, "orgs/activity.html", context)


# Teams


@login_required
def team_list(request: HttpRequest, org_name: str) -> HttpResponse:
    """The teams, and for owners a form that creates one."""
    organization, can_manage = _get_organization(request, org_name)
    form = TeamForm(request.POST or None, organization=organization)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only owners may create teams.")
        if form.is_valid():
            form.instance.organization = organization
            team = form.save()
            record_team(Activity.Action.TEAM_CREATED, team, actor=request.user)
            messages.success(request, f"Team {team.name} was created. Now add its members.")
            return redirect(team)
    teams = organization.teams.annotate(
        member_count=Count("members", distinct=True),
        repository_count=Count("permissions", distinct=True),
    )
    context = {
        "organization": organization,
        "can_manage": can_manage,
        "is_member": True,
        "teams": teams,
        "form": form,
    }
    return render(request, "orgs/teams.html", context)


def _render_team(request: HttpRequest, team: Team, can_manage: bool, **forms) -> HttpResponse:
    """The team page, with the bound form that failed when there is one. Members see only the
    repositories they may pull themselves: another team's grants must not leak private names."""
    permissions = team.permissions.select_related("repository__namespace").order_by(
        "repository__name"
    )
    if not can_manage:
        principal = _principal(request)
        permissions = [
            permission
            for permission in permissions
            if Permission.PULL in repository_permissions(principal, permission.repository)
        ]
    context = {
        "organization": team.organization,
        "team": team,
        "can_manage": can_manage,
        "is_member": True,
        "members": team.members.order_by("username"),
        "permissions": permissions,
        "invitations": team.invitations.pending().select_related("invitee", "inviter")
        if can_manage
        else [],
        "add_form": forms.get("add_form") or AddMemberForm(),
        "invite_form": forms.get("invite_form") or InviteForm(),
        "permission_form": forms.get("permission_form") or TeamPermissionForm(team=team),
    }
    return render(request, "orgs/team.html", context)


@login_required
def team_detail(request: HttpRequest, org_name: str, team_name: str) -> HttpResponse:
    team, can_manage = _get_team(request, org_name, team_name)
    return _render_team(request, team, can_manage)


def _get_team_to_manage(request: HttpRequest, org_name: str, team_name: str) -> Team:
    team, can_manage = _get_team(request, org_name, team_name)
    if not can_manage:
        raise PermissionDenied("Only owners of the organization may manage its teams.")
    return team


@login_required
def team_edit(request: HttpRequest, org_name: str, team_name: str) -> HttpResponse:
    team = _get_team_to_manage(request, org_name, team_name)
    form = TeamForm(request.POST or None, instance=team, organization=team.organization)
    if request.method == "POST" and form.is_valid():
        team = form.save()
        messages.success(request, f"Team {team.name} was saved.")
        return redirect(team)
    context = {
        "organization": team.organization,
        "team": team,
        "can_manage": True,
        "is_member": True,
        "form": form,
    }
    return render(request, "orgs/team_edit.html", context)


@login_required
@require_POST
def team_delete(request: HttpRequest, org_name: str, team_name: str) -> HttpResponse:
    team = _get_team_to_manage(request, org_name, team_name)
    if team.is_owners:
        messages.error(request, "The owners team cannot be deleted.")
        return redirect(team)
    team.delete()
    record_team(Activity.Action.TEAM_DELETED, team, actor=request.user)
    messages.success(request, f"Team {team.name} was deleted; its members lost what it gave.")
    return redirect("orgs:teams", team.organization.name)


@login_required
@require_POST
def team_add_member(request: HttpRequest, org_name: str, team_name: str) -> HttpResponse:
    team = _get_team_to_manage(request, org_name, team_name)
    form = AddMemberForm(request.POST)
    if form.is_valid():
        user = form.cleaned_data["username"]
        if team.members.filter(pk=user.pk).exists():
            form.add_error("username", f"{user.username} is already in {team.name}.")
        else:
            TeamMembership.objects.create(team=team, user=user)
            record_team(Activity.Action.MEMBER_ADDED, team, actor=request.user, member=user)
            messages.success(request, f"{user.username} was added to {team.name}.")
            return redirect(team)
    return _render_team(request, team, True, add_form=form)


@login_required
@require_POST
def team_invite(request: HttpRequest, org_name: str, team_name: str) -> HttpResponse:
    team = _get_team_to_manage(request, org_name, team_name)
    form = InviteForm(request.POST)
    if form.is_valid():
        invitee, email = form.cleaned_data["who"]
        pending = team.invitations.pending()
        duplicate = (
            pending.filter(invitee=invitee) if invitee else pending.filter(email__iexact=email)
        )
        members = (
            team.members.filter(pk=invitee.pk)
            if invitee
            else team.members.filter(email__iexact=email)
        )
        if members.exists():
            form.add_error("who", f"{invitee or email} is already in {team.name}.")
        elif invitee and not invitee.email:
            form.add_error("who", f"{invitee.username} has no email address: add them instead.")
        elif duplicate.exists():
            form.add_error(
                "who", "They already have a pending invitation; revoke it to send a new one."
            )
        elif _invite(request, team, invitee, email):
            messages.success(
                request, f"An invitation to {team.name} was sent to {invitee or email}."
            )
            return redirect(team)
        else:
            form.add_error("who", "The invitation email could not be sent. Please try again.")
    return _render_team(request, team, True, invite_form=form)


def _invite(request: HttpRequest, team: Team, invitee: User | None, email: str) -> bool:
    """Issue the invitation and email its link; keep nothing if the email cannot be sent."""
    try:
        with transaction.atomic():
            invitation, secret = Invitation.issue(team, request.user, invitee=invitee, email=email)
            send_invitation(invitation, secret)
    except OSError:  # smtplib's errors included
        log.exception("could not send the invitation to %s", invitee or email)
        return False
    return True


@login_required
@require_POST
def invitation_revoke(
    request: HttpRequest, org_name: str, team_name: str, invitation_id: int
) -> HttpResponse:
    team = _get_team_to_manage(request, org_name, team_name)
    invitation = get_object_or_404(team.invitations.pending(), pk=invitation_id)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    messages.success(
        request, f"The invitation for {invitation.invitee or invitation.email} was revoked."
    )
    return redirect(team)


@login_required
@require_POST
def team_member_remove(
    request: HttpRequest, org_name: str, team_name: str, username: str
) -> HttpResponse:
    """Owners remove anyone; a member may remove themself."""
    team, can_manage = _get_team(request, org_name, team_name)
    membership = get_object_or_404(team.memberships.select_related("user"), user__username=username)
    member = membership.user
    if not can_manage and member != request.user:
        raise PermissionDenied("Only owners of the organization may remove members.")
    if team.is_owners and _leaves_no_owner(team.organization, [member]):
        messages.error(request, LAST_OWNER_MESSAGE)
        return redirect(team)
    membership.delete()
    record_team(Activity.Action.MEMBER_REMOVED, team, actor=request.user, member=member)
    messages.success(request, f"{member.username} was removed from {team.name}.")
    if not can_manage:
        return redirect(team.organization)
    return redirect(team)


@login_required
@require_POST
def team_permission_set(request: HttpRequest, org_name: str, team_name: str) -> HttpResponse:
    """Grant the team a level on a repository, or change the level it has."""
    team = _get_team_to_manage(request, org_name, team_name)
    if team.is_owners:
        messages.error(request, "The owners team already has admin on every repository.")
        return redirect(team)
    form = TeamPermissionForm(request.POST, team=team)
    if not form.is_valid():
        return _render_team(request, team, True, permission_form=form)
    repository, level = form.cleaned_data["repository"], form.cleaned_data["level"]
    _, created = team.permissions.update_or_create(repository=repository, defaults={"level": level})
    record(
        Activity.Action.PERMISSIONS_CHANGED,
        namespace=repository.namespace,
        repository=repository,
        actor=request.user,
        change="added" if created else "changed",
        team=team.name,
        permission=level,
    )
    messages.success(request, f"{team.name} now has {level} on {repository.full_name}.")
    return redirect(team)


@login_required
@require_POST
def team_permission_remove(
    request: HttpRequest, org_name: str, team_name: str, permission_id: int
) -> HttpResponse:
    team = _get_team_to_manage(request, org_name, team_name)
    permission = get_object_or_404(
        team.permissions.select_related("repository__namespace"), pk=permission_id
    )
    permission.delete()
    record(
        Activity.Action.PERMISSIONS_CHANGED,
        namespace=permission.repository.namespace,
        repository=permission.repository,
        actor=request.user,
        change="removed",
        team=team.name,
    )
    messages.success(
        request, f"{team.name} no longer has access to {permission.repository.full_name}."
    )
    return redirect(team)


# Accepting an invitation


def _invitation_problem(invitation: Invitation | None, user) -> tuple[str, int] | None:
    """Why this link cannot be accepted (by this user), and the status to answer with."""
    if invitation is None:
        return "This invitation link is not valid. Ask the organization for a new one.", 404
    if invitation.revoked_at:
        return "This invitation was revoked. Ask the organization for a new one.", 410
    if invitation.accepted_at:
        return "This invitation was already accepted; a link works only once.", 410
    if invitation.is_expired:
        return (
            "This invitation expired. Invitations are valid for 7 days: ask the organization "
            "to send a new one.",
            410,
        )
    if not user.is_authenticated:
        return None
    if invitation.invitee_id and invitation.invitee_id != user.pk:
        return (
            f"This invitation is for another account, not {user.username}. "
            "Sign in as the invited user to accept it.",
            403,
        )
    if invitation.email:
        address = EmailAddress.objects.filter(user=user, email__iexact=invitation.email).first()
        if address is None:
            return (
                f"This invitation was sent to an email address that is not on the account "
                f"{user.username}. Sign in with the account that uses it, or add it to yours "
                "and verify it.",
                403,
            )
        if not address.verified:
            return (
                f"Verify {address.email} first (Settings › Email), then open this link again.",
                403,
            )
    return None


def invitation_accept(request: HttpRequest, secret: str) -> HttpResponse:
    """Anyone with the link sees what it is for; a signed-in account it was meant for may
    accept it."""
    invitation = Invitation.find(secret)
    problem = _invitation_problem(invitation, request.user)
    context = {"invitation": invitation, "problem": problem and problem[0]}
    if problem:
        return render(request, "orgs/invitation.html", context, status=problem[1])
    team = invitation.team
    if request.user.is_authenticated and team.members.filter(pk=request.user.pk).exists():
        context["already_member"] = True
    elif request.method == "POST" and request.user.is_authenticated:
        TeamMembership.objects.create(team=team, user=request.user)
        record_team(Activity.Action.MEMBER_ADDED, team, actor=request.user, member=request.user)
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        messages.success(
            request, f"Welcome to {team.organization.name}: you are now in the team {team.name}."
        )
        return redirect(team.organization)
    return render(request, "orgs/invitation.html", context)
