from datetime import timedelta

from allauth.account.internal.flows.email_verification import (
    consume_email_verification_rate_limit,
)
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from repos.access import ANONYMOUS, Principal, pullable_repositories
from repos.models import Repository, Star

from .forms import AccessTokenForm, DefaultPrivacyForm, ProfileForm, ResendVerificationForm
from .models import AccessToken, Namespace, User


def profile(request: HttpRequest, username: str) -> HttpResponse:
    owner = get_object_or_404(User, username=username, is_active=True)
    viewer = Principal(user=request.user) if request.user.is_authenticated else ANONYMOUS
    starred = (
        pullable_repositories(viewer, Repository.objects.all())
        .filter(pk__in=Star.objects.filter(user=owner).values("repository"))
        .select_related("namespace")
        .with_counts()
        .order_by("namespace__name", "name")
    )
    return render(request, "accounts/profile.html", {"owner": owner, "starred": starred})


@login_required
def settings_profile(request: HttpRequest) -> HttpResponse:
    """Two forms on one page; the submit button's name says which one was sent."""
    namespace = Namespace.objects.get(name=request.user.username)
    data = request.POST if request.method == "POST" else None
    form = ProfileForm(data if "save-profile" in request.POST else None, instance=request.user)
    privacy_form = DefaultPrivacyForm(
        data if "save-privacy" in request.POST else None, instance=namespace
    )
    if form.is_bound and form.is_valid():
        form.save()
        messages.success(request, "Your profile was saved.")
        return redirect("accounts:settings-profile")
    if privacy_form.is_bound and privacy_form.is_valid():
        privacy_form.save()
        messages.success(request, privacy_form.saved_message())
        return redirect("accounts:settings-profile")
    return render(
        request, "accounts/settings_profile.html", {"form": form, "privacy_form": privacy_form}
    )


NEW_TOKEN_SESSION_KEY = "accounts.new_access_token"


@login_required
def settings_security(request: HttpRequest) -> HttpResponse:
    form = AccessTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        token, secret = AccessToken.issue(
            request.user,
            form.cleaned_data["label"],
            form.cleaned_data["scope"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            created_by_client="web",
        )
        # Shown once, on the next page, then gone: only its hash is stored.
        request.session[NEW_TOKEN_SESSION_KEY] = {"uuid": str(token.uuid), "secret": secret}
        return redirect("accounts:settings-security")
    context = {
        "emails": EmailAddress.objects.filter(user=request.user).order_by("-primary", "email"),
        "tokens": AccessToken.objects.filter(user=request.user),
        "form": form,
        "new_token": request.session.pop(NEW_TOKEN_SESSION_KEY, None),
        "now": timezone.now(),
    }
    return render(request, "accounts/settings_security.html", context)


@login_required
@require_POST
def access_token_action(request: HttpRequest, token_uuid: str, action: str) -> HttpResponse:
    token = get_object_or_404(AccessToken, uuid=token_uuid, user=request.user)
    if action == "delete":
        token.delete()
        messages.success(request, f"The token '{token.label}' was deleted; it no longer works.")
    else:
        token.is_active = action == "activate"
        token.save(update_fields=["is_active"])
        state = "active again" if token.is_active else "inactive: it no longer works"
        messages.success(request, f"The token '{token.label}' is {state}.")
    return redirect("accounts:settings-security")


@login_required
def settings_linked_accounts(request: HttpRequest) -> HttpResponse:
    github_accounts = SocialAccount.objects.filter(user=request.user, provider="github")
    return render(
        request,
        "accounts/settings_linked_accounts.html",
        {"github_accounts": github_accounts},
    )


@require_POST
def resend_verification(request: HttpRequest) -> HttpResponse:
    form = ResendVerificationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the email address you signed up with.")
        return redirect("account_email_verification_sent")
    email = form.cleaned_data["email"]
    # Every address, known or not, uses up the same allowance (allauth's "confirm_email" rate,
    # shared with signup and sign-in), so neither answer tells whether an account exists.
    if not consume_email_verification_rate_limit(request, email):
        messages.warning(
            request,
            "A link for that address was asked for only a few minutes ago. Look for it in your "
            "inbox and spam folder, or ask again in a few minutes.",
        )
        return redirect("account_email_verification_sent")
    address = (
        EmailAddress.objects.filter(email__iexact=email, verified=False)
        .select_related("user")
        .first()
    )
    if address:
        address.send_confirmation(request)
    messages.info(
        request,
        "If an unverified account uses that address, a new confirmation link is on its way.",
    )
    return redirect("account_email_verification_sent")
