"""Docker Hub's audit log API: `/v2/auditlogs/<account>` and `/v2/auditlogs/<account>/actions`.

An account's log is read by the account itself (a user), its owners (an organization) and
staff, with a password or any access token. A member of an organization who is not an owner
is refused (403); anyone else is told there is no such account (404).
"""

from django.db.models import QuerySet
from django.urls import path
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Namespace, TokenScope
from hub.api import ErrorSerializer
from orgs.models import TeamMembership

from .access import ANONYMOUS, Principal, Role, namespace_role
from .activity import ORGANIZATION_ACTIONS, REPOSITORY_ACTIONS, describe, for_namespace
from .models import Activity

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404)}
PAGE_SIZE, MAX_PAGE_SIZE = 25, 100


def _principal(request: Request) -> Principal:
    if not request.user.is_authenticated:
        return ANONYMOUS
    scope = getattr(request.auth, "scope", None)
    return Principal(user=request.user, scope=TokenScope(scope) if scope else None)


def _account(request: Request, account: str) -> Namespace:
    principal = _principal(request)
    if principal.is_anonymous:
        raise exceptions.NotAuthenticated("Sign in to read an audit log.")
    namespace = Namespace.objects.filter(name=account).first()
    if namespace is not None and namespace_role(principal, namespace) is Role.OWNER:
        return namespace
    is_member = (
        namespace is not None
        and TeamMembership.objects.filter(
            team__organization__namespace=namespace, user=principal.user
        ).exists()
    )
    if is_member:
        raise exceptions.PermissionDenied(f"Only the owners of {account} can read its audit log.")
    raise exceptions.NotFound(f"There is no account named '{account}' whose audit log you own.")


class AuditLogSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="namespace.name")
    name = serializers.CharField(source="object_name")
    actor = serializers.SerializerMethodField()
    data = serializers.DictField(child=serializers.CharField())
    timestamp = serializers.DateTimeField(source="created")
    action_description = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        fields = ["account", "action", "name", "actor", "data", "timestamp", "action_description"]

    def get_actor(self, activity: Activity) -> str:
        """The username of who did it; empty for the system."""
        return activity.actor.username if activity.actor else ""

    def get_action_description(self, activity: Activity) -> str:
        return describe(activity)


def _int(request: Request, name: str, default: int, maximum: int) -> int:
    value = request.query_params.get(name, str(default))
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise exceptions.ValidationError({name: [f"Must be a number from 1 to {maximum}."]})
    return int(value)


def _filtered(request: Request, logs: QuerySet[Activity]) -> QuerySet[Activity]:
    params = request.query_params
    if action := params.get("action"):
        if action not in Activity.Action.values:
            raise exceptions.ValidationError(
                {"action": [f"Unknown action; one of {', '.join(Activity.Action.values)}."]}
            )
        logs = logs.filter(action=action)
    if name := params.get("name"):
        logs = logs.filter(object_name=name)
    if actor := params.get("actor"):
        logs = logs.filter(actor__username=actor)
    for param, lookup in (("from", "created__gte"), ("to", "created__lte")):
        if value := params.get(param):
            moment = parse_datetime(value)
            if moment is None or moment.tzinfo is None:
                raise exceptions.ValidationError(
                    {param: ["Must be an RFC 3339 time with a zone, like 2025-03-01T12:00:00Z."]}
                )
            logs = logs.filter(**{lookup: moment})
    return logs


class AuditLogView(APIView):
    @extend_schema(
        tags=["audit-logs"],
        summary="List the audit log events of an account",
        description="Newest first. For the account itself, or the owners of an organization.",
        parameters=[
            OpenApiParameter("action", str, description="Only this action, e.g. repo.tag.push"),
            OpenApiParameter("name", str, description="Only events about this name (ns/repo)"),
            OpenApiParameter("actor", str, description="Only events caused by this user"),
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="Not before"),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="Not after"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int, description=f"At most {MAX_PAGE_SIZE}"),
        ],
        responses={
            200: inline_serializer("AuditLogs", {"logs": AuditLogSerializer(many=True)}),
            **ERRORS,
        },
    )
    def get(self, request: Request, account: str) -> Response:
        namespace = _account(request, account)
        page = _int(request, "page", 1, 10**6)
        page_size = _int(request, "page_size", PAGE_SIZE, MAX_PAGE_SIZE)
        logs = _filtered(request, for_namespace(namespace).select_related("namespace"))
        start = (page - 1) * page_size
        rows = logs[start : start + page_size]
        return Response({"logs": AuditLogSerializer(rows, many=True).data})


def _group(label: str, actions: tuple[Activity.Action, ...]) -> dict:
    return {
        "label": label,
        "actions": [
            {
                "name": action.value,
                "label": action.label,
                "description": f"Contains {action.label.lower()} events",
            }
            for action in actions
        ],
    }


class AuditActionsView(APIView):
    @extend_schema(
        tags=["audit-logs"],
        summary="List the actions an account's audit log can hold, to filter it by",
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request, account: str) -> Response:
        namespace = _account(request, account)
        groups = {"repo": _group("Repository", REPOSITORY_ACTIONS)}
        if namespace.kind == Namespace.Kind.ORG:
            groups["org"] = _group("Organization", ORGANIZATION_ACTIONS)
        return Response({"actions": groups})


urlpatterns = [
    path("v2/auditlogs/<str:account>", AuditLogView.as_view(), name="hub-auditlogs"),
    path(
        "v2/auditlogs/<str:account>/actions",
        AuditActionsView.as_view(),
        name="hub-auditlog-actions",
    ),
]
