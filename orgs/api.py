"""Hub API for organizations (DESIGN §3), with Docker Hub's shapes: members, invites, groups
(teams) and their members, and the teams' permissions on a repository.

Members of an organization may read its members and groups; only its owners (and staff) change
them, and not with an access token below repo:admin (repos.access.can_manage_organization).
Anyone else is told there is no such organization. A repository's groups are managed by those
with admin permission on it.
"""

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Namespace, TokenScope, User
from hub.api import ErrorSerializer, HubPagination
from repos.access import (
    ANONYMOUS,
    Permission,
    Principal,
    can_manage_organization,
    get_repository_or_404,
)
from repos.activity import record, record_team
from repos.models import Activity, Repository

from .invitations import send_invitation
from .models import OWNERS_TEAM, Invitation, Organization, Team, TeamMembership, TeamPermission

log = logging.getLogger(__name__)

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404)}
READ_ERRORS = {code: ErrorSerializer for code in (401, 404)}


def principal_of(request: Request) -> Principal:
    """The signed-in user (bearer token, basic auth or session); an access token's scope caps
    what they may do."""
    if not request.user.is_authenticated:
        return ANONYMOUS
    scope = getattr(request.auth, "scope", None)
    return Principal(user=request.user, scope=TokenScope(scope) if scope else None)


def _organization(request: Request, org: str, *, manage: bool = False) -> Organization:
    """The organization if the requester is in it (404 otherwise); with `manage`, 403 unless
    they may change it."""
    principal = principal_of(request)
    if principal.is_anonymous:
        raise exceptions.NotAuthenticated("Sign in to see organizations.")
    organization = (
        Organization.objects.select_related("namespace").filter(namespace__name=org).first()
    )
    user = principal.user
    if organization is None or not (
        user.is_staff or organization.teams.filter(members=user).exists()
    ):
        raise exceptions.NotFound(f"There is no organization named '{org}' that you are in.")
    if manage:
        _refuse_limited_token(principal)
        if not can_manage_organization(principal, organization):
            raise exceptions.PermissionDenied(f"Only the owners of {org} can do this.")
    return organization


def _refuse_limited_token(principal: Principal) -> None:
    if principal.scope not in (None, TokenScope.ADMIN):
        raise exceptions.PermissionDenied(
            f"A {principal.scope} access token cannot change organizations; use your password "
            "or a repo:admin token."
        )


def _team(organization: Organization, name: str) -> Team:
    team = organization.teams.filter(name=name).first()
    if team is None:
        raise exceptions.NotFound(f"{organization.name} has no team named '{name}'.")
    return team


def _paginated(request: Request, view: APIView, queryset: QuerySet, serializer) -> Response:
    paginator = HubPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


def _user_named(username: str, field: str) -> User:
    user = User.objects.filter(username=username.strip().lower(), is_active=True).first()
    if user is None:
        raise exceptions.ValidationError({field: [f"There is no user named '{username}'."]})
    return user


def _bad_request(message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({"detail": message})


# Members


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "full_name", "company", "location", "date_joined"]


class MemberSerializer(UserSerializer):
    role = serializers.SerializerMethodField()
    groups = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "role", "groups"]

    def get_role(self, user: User) -> str:
        """`owner` for members of the owners team, else `member`."""
        return "owner" if OWNERS_TEAM in self.get_groups(user) else "member"

    def get_groups(self, user: User) -> list[str]:
        """The teams of this organization the user is in."""
        return [membership.team.name for membership in user.org_memberships]


def _members(organization: Organization) -> QuerySet:
    memberships = TeamMembership.objects.filter(team__organization=organization).select_related(
        "team"
    )
    return (
        User.objects.filter(teams__organization=organization)
        .distinct()
        .order_by("username")
        .prefetch_related(
            Prefetch(
                "team_memberships",
                queryset=memberships.order_by("team__name"),
                to_attr="org_memberships",
            )
        )
    )


class MemberListView(APIView):
    pagination_class = HubPagination

    @extend_schema(
        tags=["orgs"],
        summary="List the members of an organization",
        responses={200: MemberSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request, org: str) -> Response:
        organization = _organization(request, org)
        return _paginated(request, self, _members(organization), MemberSerializer)


def _last_owner_check(team: Team, user: User) -> None:
    if team.is_owners and team.memberships.exclude(user=user).count() == 0:
        raise _bad_request(
            f"{user.username} is the last member of the {OWNERS_TEAM} team of "
            f"{team.organization.name}; add another owner first."
        )


class MemberView(APIView):
    @extend_schema(
        tags=["orgs"],
        summary="Remove a member from an organization (from all its teams)",
        description="Owners may remove anyone but the last owner; a member may remove "
        "themselves (leave the organization).",
        responses={204: None, **ERRORS},
    )
    def delete(self, request: Request, org: str, username: str) -> Response:
        principal = principal_of(request)
        leaving = principal.name == username
        organization = _organization(request, org, manage=not leaving)
        if leaving:
            _refuse_limited_token(principal)
        memberships = TeamMembership.objects.filter(
            team__organization=organization, user__username=username
        ).select_related("team", "user")
        if not memberships:
            raise exceptions.NotFound(f"{username} is not a member of {org}.")
        with transaction.atomic():
            for membership in memberships:
                _last_owner_check(membership.team, membership.user)
                record_team(
                    Activity.Action.MEMBER_REMOVED,
                    membership.team,
                    actor=request.user,
                    member=membership.user,
                )
            memberships.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


# Invites


class InviteSerializer(serializers.ModelSerializer):
    inviter_username = serializers.SerializerMethodField()
    invitee = serializers.SerializerMethodField()
    org = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="created")

    class Meta:
        model = Invitation
        fields = ["id", "inviter_username", "invitee", "org", "team", "created_at", "expires_at"]

    def get_inviter_username(self, invitation: Invitation) -> str:
        return invitation.inviter.username if invitation.inviter else ""

    def get_invitee(self, invitation: Invitation) -> str:
        """The username invited, or the email address for someone without an account."""
        return invitation.invitee.username if invitation.invitee else invitation.email

    def get_org(self, invitation: Invitation) -> str:
        return invitation.team.organization.name

    def get_team(self, invitation: Invitation) -> str:
        return invitation.team.name


class InviteListSerializer(serializers.Serializer):
    data = InviteSerializer(many=True)


class InviteRequestSerializer(serializers.Serializer):
    invitee = serializers.CharField(help_text="A username, or an email address")
    team = serializers.CharField(help_text="The team to join")


class EmailNotSent(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The invitation email could not be sent; nothing was kept. Try again later."


def _issue_invitation(request: Request, organization: Organization, data: dict) -> Invitation:
    team = organization.teams.filter(name=data["team"]).first()
    if team is None:
        raise exceptions.ValidationError(
            {"team": [f"{organization.name} has no team named '{data['team']}'."]}
        )
    invitee = data["invitee"].strip()
    pending = Invitation.objects.pending().filter(team=team)
    if "@" in invitee:
        try:
            validate_email(invitee)
        except DjangoValidationError:
            raise exceptions.ValidationError(
                {"invitee": [f"'{invitee}' is neither a username nor an email address."]}
            ) from None
        user, email = None, invitee
        already = team.members.filter(email__iexact=email).exists()
        pending = pending.filter(email__iexact=email)
    else:
        user, email = _user_named(invitee, "invitee"), ""
        if not user.email:
            raise _bad_request(
                f"{user.username} has no email address: add them to the team instead."
            )
        already = team.members.filter(pk=user.pk).exists()
        pending = pending.filter(invitee=user)
    if already:
        raise _bad_request(f"{invitee} is already in the team {team.name}.")
    if pending.exists():
        raise _bad_request(
            f"{invitee} already has a pending invitation to the team {team.name}; revoke it "
            "to send a new one."
        )
    try:
        with transaction.atomic():
            invitation, secret = Invitation.issue(team, request.user, invitee=user, email=email)
            send_invitation(invitation, secret)
    except OSError:  # smtplib's errors included
        log.exception("could not send the invitation to %s", invitee)
        raise EmailNotSent() from None
    return invitation


class InviteListView(APIView):
    @extend_schema(
        tags=["invites"],
        summary="List the pending invitations of an organization",
        description='Owners only. Docker Hub\'s shape: `{"data": [...]}`.',
        responses={200: InviteListSerializer, **ERRORS},
    )
    def get(self, request: Request, org: str) -> Response:
        organization = _organization(request, org, manage=True)
        invitations = (
            Invitation.objects.pending()
            .filter(team__organization=organization)
            .select_related("team__organization__namespace", "inviter", "invitee")
        )
        return Response({"data": InviteSerializer(invitations, many=True).data})

    @extend_schema(
        tags=["invites"],
        summary="Invite someone to a team, by username or email address",
        description="Emails a link to accept the invitation; it expires after a week.",
        request=InviteRequestSerializer,
        responses={201: InviteSerializer, **ERRORS, 503: ErrorSerializer},
    )
    def post(self, request: Request, org: str) -> Response:
        organization = _organization(request, org, manage=True)
        data = InviteRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = _issue_invitation(request, organization, data.validated_data)
        return Response(InviteSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InviteView(APIView):
    @extend_schema(
        tags=["invites"],
        summary="Revoke an invitation",
        description="Its link then says it was revoked.",
        responses={204: None, **ERRORS},
    )
    def delete(self, request: Request, org: str, invite_id: int) -> Response:
        organization = _organization(request, org, manage=True)
        revoked = (
            Invitation.objects.pending()
            .filter(pk=invite_id, team__organization=organization)
            .update(revoked_at=timezone.now())
        )
        if not revoked:
            raise exceptions.NotFound(f"{org} has no pending invitation {invite_id}.")
        return Response(status=status.HTTP_204_NO_CONTENT)


# Groups (teams)


class GroupSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "description", "member_count"]
        read_only_fields = ["id"]
        extra_kwargs = {"description": {"required": False}}


class GroupUpdateSerializer(GroupSerializer):
    class Meta(GroupSerializer.Meta):
        extra_kwargs = {"name": {"required": False}, "description": {"required": False}}


def _groups(organization: Organization) -> QuerySet:
    return organization.teams.annotate(member_count=Count("memberships")).order_by("name")


def _save_group(organization: Organization, team: Team, fields: dict) -> Team:
    """Save a new or changed team (its fields validated by the serializer); the names of an
    organization's teams differ."""
    for field, value in fields.items():
        setattr(team, field, value)
    try:
        team.validate_constraints()
    except DjangoValidationError:
        raise _bad_request(f"{organization.name} already has a team named '{team.name}'.") from None
    team.save()
    return _groups(organization).get(pk=team.pk)


class GroupListView(APIView):
    pagination_class = HubPagination

    @extend_schema(
        tags=["groups"],
        summary="List the groups (teams) of an organization",
        responses={200: GroupSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request, org: str) -> Response:
        organization = _organization(request, org)
        return _paginated(request, self, _groups(organization), GroupSerializer)

    @extend_schema(
        tags=["groups"],
        summary="Create a group (team)",
        request=GroupSerializer,
        responses={201: GroupSerializer, **ERRORS},
    )
    def post(self, request: Request, org: str) -> Response:
        organization = _organization(request, org, manage=True)
        data = GroupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = _save_group(organization, Team(organization=organization), data.validated_data)
        record_team(Activity.Action.TEAM_CREATED, team, actor=request.user)
        return Response(GroupSerializer(team).data, status=status.HTTP_201_CREATED)


class GroupView(APIView):
    @extend_schema(
        tags=["groups"],
        summary="Get a group (team)",
        responses={200: GroupSerializer, **READ_ERRORS},
    )
    def get(self, request: Request, org: str, team: str) -> Response:
        organization = _organization(request, org)
        return Response(
            GroupSerializer(_groups(organization).get(pk=_team(organization, team).pk)).data
        )

    @extend_schema(
        tags=["groups"],
        summary="Rename or describe a group (team)",
        request=GroupUpdateSerializer,
        responses={200: GroupSerializer, **ERRORS},
    )
    def patch(self, request: Request, org: str, team: str) -> Response:
        organization = _organization(request, org, manage=True)
        group = _team(organization, team)
        data = GroupUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if group.is_owners and data.validated_data.get("name", group.name) != group.name:
            raise _bad_request(f"The {OWNERS_TEAM} team cannot be renamed.")
        group = _save_group(organization, group, data.validated_data)
        return Response(GroupSerializer(group).data)

    @extend_schema(
        tags=["groups"],
        summary="Delete a group (team)",
        description="Its members lose what the team gave them. The owners team stays.",
        responses={204: None, **ERRORS},
    )
    def delete(self, request: Request, org: str, team: str) -> Response:
        organization = _organization(request, org, manage=True)
        group = _team(organization, team)
        if group.is_owners:
            raise _bad_request(f"The {OWNERS_TEAM} team cannot be deleted.")
        group.delete()
        record_team(Activity.Action.TEAM_DELETED, group, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupMemberRequestSerializer(serializers.Serializer):
    member = serializers.CharField(help_text="A username")


class GroupMemberListView(APIView):
    pagination_class = HubPagination

    @extend_schema(
        tags=["groups"],
        summary="List the members of a group (team)",
        responses={200: UserSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request, org: str, team: str) -> Response:
        group = _team(_organization(request, org), team)
        return _paginated(request, self, group.members.order_by("username"), UserSerializer)

    @extend_schema(
        tags=["groups"],
        summary="Add someone to a group (team) by username",
        description="To add someone by email address, invite them (`/v2/orgs/{org}/invites`).",
        request=GroupMemberRequestSerializer,
        responses={200: UserSerializer, **ERRORS},
    )
    def post(self, request: Request, org: str, team: str) -> Response:
        group = _team(_organization(request, org, manage=True), team)
        data = GroupMemberRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = _user_named(data.validated_data["member"], "member")
        _, created = TeamMembership.objects.get_or_create(team=group, user=user)
        if not created:
            raise _bad_request(f"{user.username} is already in the team {group.name}.")
        record_team(Activity.Action.MEMBER_ADDED, group, actor=request.user, member=user)
        return Response(UserSerializer(user).data)


class GroupMemberView(APIView):
    @extend_schema(
        tags=["groups"],
        summary="Remove someone from a group (team)",
        description="The owners team keeps at least one member.",
        responses={204: None, **ERRORS},
    )
    def delete(self, request: Request, org: str, team: str, username: str) -> Response:
        group = _team(_organization(request, org, manage=True), team)
        membership = group.memberships.select_related("user").filter(user__username=username)
        if not membership:
            raise exceptions.NotFound(f"{username} is not in the team {group.name}.")
        member = membership[0].user
        _last_owner_check(group, member)
        membership.delete()
        record_team(Activity.Action.MEMBER_REMOVED, group, actor=request.user, member=member)
        return Response(status=status.HTTP_204_NO_CONTENT)


# A repository's groups


class RepositoryGroupSerializer(serializers.Serializer):
    group_name = serializers.CharField(source="team.name", read_only=True)
    group_id = serializers.IntegerField(
        source="team_id", help_text="The id of a group (team) of the organization"
    )
    permission = serializers.ChoiceField(choices=TeamPermission.Level.values, source="level")


def _managed_org_repository(request: Request, namespace: str, name: str) -> Repository:
    """A repository of an organization the requester has admin permission on."""
    repository = get_repository_or_404(principal_of(request), namespace, name, Permission.ADMIN)
    if repository.namespace.kind != Namespace.Kind.ORG:
        raise _bad_request(
            f"{repository.full_name} belongs to a user: only repositories of organizations "
            "give permissions to groups."
        )
    return repository


def _record_permission(
    request: Request, repository: Repository, change: str, team: Team, level: str = ""
) -> None:
    data = {"permission": level} if level else {}
    record(
        Activity.Action.PERMISSIONS_CHANGED,
        namespace=repository.namespace,
        repository=repository,
        actor=request.user,
        change=change,
        team=team.name,
        **data,
    )


class RepositoryGroupListView(APIView):
    pagination_class = HubPagination

    @extend_schema(
        tags=["repositories"],
        summary="List the groups (teams) with a permission on a repository",
        description="Needs admin permission on the repository.",
        responses={200: RepositoryGroupSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, namespace: str, name: str) -> Response:
        repository = _managed_org_repository(request, namespace, name)
        grants = repository.team_permissions.select_related("team").order_by("team__name")
        return _paginated(request, self, grants, RepositoryGroupSerializer)

    @extend_schema(
        tags=["repositories"],
        summary="Give a group (team) a permission on a repository, or change it",
        description="`read`: view and pull; `write`: also push and delete tags; `admin`: also "
        "settings, visibility, group permissions and deleting the repository.",
        request=RepositoryGroupSerializer,
        responses={
            200: OpenApiResponse(RepositoryGroupSerializer, "The group's permission changed."),
            201: OpenApiResponse(RepositoryGroupSerializer, "The group has a permission now."),
            **ERRORS,
        },
    )
    def post(self, request: Request, namespace: str, name: str) -> Response:
        repository = _managed_org_repository(request, namespace, name)
        data = RepositoryGroupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        group_id = data.validated_data["team_id"]
        team = Team.objects.filter(pk=group_id, organization__namespace=repository.namespace)
        team = team.first()
        if team is None:
            raise exceptions.ValidationError(
                {"group_id": [f"{namespace} has no group with id {group_id}."]}
            )
        if team.is_owners:
            raise _bad_request(
                f"The {OWNERS_TEAM} team already has full control of every repository of "
                f"{namespace}."
            )
        grant, created = TeamPermission.objects.update_or_create(
            team=team, repository=repository, defaults={"level": data.validated_data["level"]}
        )
        _record_permission(
            request, repository, "added" if created else "changed", team, grant.level
        )
        return Response(
            RepositoryGroupSerializer(grant).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RepositoryGroupView(APIView):
    @extend_schema(
        tags=["repositories"],
        summary="Take a group's (team's) permission on a repository away",
        responses={204: None, **ERRORS},
    )
    def delete(self, request: Request, namespace: str, name: str, group_id: int) -> Response:
        repository = _managed_org_repository(request, namespace, name)
        grant = repository.team_permissions.select_related("team").filter(team_id=group_id).first()
        if grant is None:
            raise exceptions.NotFound(f"Group {group_id} has no permission on {namespace}/{name}.")
        grant.delete()
        _record_permission(request, repository, "removed", grant.team)
        return Response(status=status.HTTP_204_NO_CONTENT)
