"""HTTP Basic authentication for the Hub API, and the legacy Docker Hub v1 user API.

The v1 endpoints (DESIGN §3) go through django-allauth exactly as the web pages do: the same
sign-up form and account adapter, password validators, email verification and change-email
flow, and the same rate limits.
"""

from collections.abc import Mapping
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.account import signals
from allauth.account.adapter import get_adapter
from allauth.account.forms import AddEmailForm, SignupForm
from allauth.account.internal.flows.email_verification import (
    send_verification_email_to_address,
)
from allauth.account.internal.flows.password_change import change_password
from allauth.account.models import EmailAddress
from allauth.core import ratelimit
from allauth.utils import get_form_class
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from hub.api import ErrorSerializer

from .authentication import HubBasicAuthentication
from .models import User
from .namespaces import NAMESPACE_RULE

USER_CREATED = "User created"


def _form_errors(form: forms.Form, renames: Mapping[str, str]) -> dict[str, list[str]]:
    """A Django form's errors keyed by the API's field names."""
    return {
        renames.get(field, api_settings.NON_FIELD_ERRORS_KEY if field == "__all__" else field): [
            str(message) for message in messages
        ]
        for field, messages in form.errors.items()
    }


class SignupSerializer(serializers.Serializer):
    """The same rules as the web sign-up page.

    Other keys are ignored: old docker clients also send `auth` and `serveraddress`.
    """

    username = serializers.CharField(help_text=NAMESPACE_RULE)
    email = serializers.EmailField(help_text="A confirmation link is sent to this address.")
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        form_class = get_form_class(account_settings.FORMS, "signup", SignupForm)
        self.form = form_class(
            data={
                "username": attrs["username"],
                "email": attrs["email"],
                "password1": attrs["password"],
            }
        )
        if not self.form.is_valid():
            raise serializers.ValidationError(_form_errors(self.form, {"password1": "password"}))
        return attrs

    def sign_up(self, request: Request) -> None:
        if self.form.account_already_exists:
            # allauth's enumeration prevention, as on the web: the same answer, and the owner of
            # the address is told by mail that they already have an account.
            address = EmailAddress(email=self.form.cleaned_data["email"])
            send_verification_email_to_address(request, address, signup=True)
            return
        user = self.form.save(request)
        signals.user_signed_up.send(sender=user.__class__, request=request, user=user)
        address = EmailAddress.objects.get_primary(user)
        send_verification_email_to_address(request, address, signup=True)


class UserUpdateSerializer(serializers.Serializer):
    """A new email (confirmed by mail before it replaces the current one) and/or password."""

    email = serializers.EmailField(
        required=False,
        help_text="Added unverified; it becomes the primary address once confirmed by mail.",
    )
    password = serializers.CharField(
        required=False,
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                allowed = " and ".join(f'"{name}"' for name in self.fields)
                raise serializers.ValidationError(
                    {name: [f"Unknown field: only {allowed} can be changed."] for name in unknown}
                )
        return super().to_internal_value(data)

    def validate_email(self, value: str) -> str:
        form_class = get_form_class(account_settings.FORMS, "add_email", AddEmailForm)
        self.email_form = form_class(user=self.instance, data={"email": value})
        if not self.email_form.is_valid():
            raise serializers.ValidationError(
                [
                    str(message)
                    for messages in self.email_form.errors.values()
                    for message in messages
                ]
            )
        return self.email_form.cleaned_data["email"]

    def validate_password(self, value: str) -> str:
        return get_adapter().clean_password(value, user=self.instance)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError('Send a new "email", a new "password", or both.')
        return attrs

    def update(self, instance: User, validated_data: dict[str, Any]) -> User:
        request = self.context["request"]
        if "password" in validated_data:
            change_password(instance, validated_data["password"])
            get_adapter(request).send_notification_mail("account/email/password_changed", instance)
            signals.password_changed.send(sender=User, request=request, user=instance)
        if "email" in validated_data:
            address = self.email_form.save(request)
            signals.email_added.send(
                sender=EmailAddress, request=request, user=instance, email_address=address
            )
        return instance


class PublicUserSerializer(serializers.ModelSerializer):
    """What anyone may see of a user, with Docker Hub's field names."""

    profile_url = serializers.URLField(source="website", read_only=True)
    type = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "username",
            "full_name",
            "location",
            "company",
            "profile_url",
            "date_joined",
            "type",
        ]
        read_only_fields = fields

    def get_type(self, user: User) -> str:
        return "User"


def _throttle_unless_allowed(request: Request, action: str, **kwargs: Any) -> None:
    if not ratelimit.consume(request, action=action, **kwargs):
        raise exceptions.Throttled(detail="Too many requests: please try again later.")


class UsersView(APIView):
    """`/v1/users`: sign up (POST), or check a username and password (GET)."""

    authentication_classes = [HubBasicAuthentication]

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method == "POST":
            return [AllowAny()]
        return [IsAuthenticated()]

    @extend_schema(
        tags=["v1"],
        operation_id="v1_users_login",
        summary="Check a username and password",
        description=(
            'Answers `"OK"` when the HTTP Basic credentials are right, the account is active '
            "and its email address verified."
        ),
        responses={
            200: OpenApiResponse(
                OpenApiTypes.STR, examples=[OpenApiExample("OK", value="OK", response_only=True)]
            ),
            401: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        return Response("OK")

    @extend_schema(
        tags=["v1"],
        operation_id="v1_users_signup",
        summary="Sign up",
        auth=[],
        description=(
            "Creates an account with an unverified email address and mails a confirmation "
            "link; the account can sign in once the address is confirmed."
        ),
        request=SignupSerializer,
        responses={
            201: OpenApiResponse(
                OpenApiTypes.STR,
                examples=[OpenApiExample("Created", value=USER_CREATED, response_only=True)],
            ),
            400: ErrorSerializer,
            403: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        _throttle_unless_allowed(request, "signup")
        if not get_adapter(request).is_open_for_signup(request):
            raise exceptions.PermissionDenied("Sign-up is closed on this hub.")
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.sign_up(request)
        return Response(USER_CREATED, status=status.HTTP_201_CREATED)


class UserView(APIView):
    """`/v1/users/<username>/`: change one's own email address or password."""

    authentication_classes = [HubBasicAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["v1"],
        operation_id="v1_users_update",
        summary="Change your email address or password",
        description=(
            "Only your own account. A new email address is added unverified and a confirmation "
            "link is mailed to it; it replaces the current address once confirmed."
        ),
        request=UserUpdateSerializer,
        responses={
            200: PublicUserSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def put(self, request: Request, username: str) -> Response:
        user = User.objects.filter(username=username.lower(), is_active=True).first()
        if user is None:
            raise exceptions.NotFound(f"There is no user named '{username}'.")
        if user != request.user:
            raise exceptions.PermissionDenied("You can only change your own account.")
        serializer = UserUpdateSerializer(user, data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        if "password" in serializer.validated_data:
            _throttle_unless_allowed(request, "change_password", user=user)
        if "email" in serializer.validated_data:
            _throttle_unless_allowed(request, "manage_email", user=user)
        serializer.save()
        return Response(PublicUserSerializer(user).data)
