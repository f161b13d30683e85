import logging

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.utils import user_username
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount, SocialLogin
from allauth.socialaccount.providers.base.constants import AuthError, AuthProcess
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse

from .models import User
from .namespaces import is_namespace_taken, validate_namespace_name

logger = logging.getLogger(__name__)


class AccountAdapter(DefaultAccountAdapter):
    def clean_username(self, username: str, shallow: bool = False) -> str:
        username = username.strip().lower()
        try:
            validate_namespace_name(username)
        except ValidationError as error:
            raise ValidationError(error.messages[0]) from None
        if not shallow and is_namespace_taken(username):
            raise ValidationError(f"'{username}' is already taken by a user or an organization.")
        return username


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Signing up, signing in and linking accounts through GitHub."""

    error_messages = {
        **DefaultSocialAccountAdapter.error_messages,
        "no_password": (
            "Set a password first (Settings › Security): without it you could no longer "
            "sign in once GitHub is unlinked."
        ),
        "no_verified_email": (
            "Verify an email address first (Settings › Email): without one you could no "
            "longer recover your account once GitHub is unlinked."
        ),
    }

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict) -> User:
        user = super().populate_user(request, sociallogin, data)
        user.full_name = (data.get("name") or "")[: User._meta.get_field("full_name").max_length]
        return user

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        # Otherwise allauth silently invents a username (from the email address, or "user2")
        # when the GitHub login is taken or not a valid namespace; the person should choose.
        if not super().is_auto_signup_allowed(request, sociallogin):
            return False
        try:
            get_account_adapter(request).clean_username(user_username(sociallogin.user) or "")
        except ValidationError:
            return False
        return True

    def get_connect_redirect_url(self, request: HttpRequest, socialaccount: SocialAccount) -> str:
        return reverse("accounts:settings-linked")

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider,
        error: str | None = None,
        exception: Exception | None = None,
        extra_context: dict | None = None,
    ) -> None:
        if error != AuthError.CANCELLED:
            # allauth keeps the reason to itself; a wrong client secret must show in the logs.
            logger.warning("%s sign-in failed (%s): %r", provider.name, error, exception)
        state = (extra_context or {}).get("state") or {}
        if state.get("process") == AuthProcess.CONNECT and request.user.is_authenticated:
            # Whoever was linking goes back where they started, told what happened.
            if error == AuthError.CANCELLED:
                messages.info(request, f"{provider.name} was not linked: you cancelled.")
            else:
                messages.error(
                    request,
                    f"{provider.name} was not linked: {provider.name} did not confirm the "
                    "account. Please try again.",
                )
            raise ImmediateHttpResponse(redirect("accounts:settings-linked"))
