from allauth.account.internal.flows.email_verification import (
    send_verification_email_to_address,
)
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .forms import ProfileForm, ResendVerificationForm
from .models import User


def profile(request: HttpRequest, username: str) -> HttpResponse:
    owner = get_object_or_404(User, username=username, is_active=True)
    return render(request, "accounts/profile.html", {"owner": owner})


@login_required
def settings_profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your profile was saved.")
        return redirect("accounts:settings-profile")
    return render(request, "accounts/settings_profile.html", {"form": form})


@login_required
def settings_security(request: HttpRequest) -> HttpResponse:
    emails = EmailAddress.objects.filter(user=request.user).order_by("-primary", "email")
    return render(request, "accounts/settings_security.html", {"emails": emails})


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
    address = (
        EmailAddress.objects.filter(email__iexact=form.cleaned_data["email"], verified=False)
        .select_related("user")
        .first()
    )
    if address:
        # allauth rate-limits this per address; a refused send is silent, the old link still works.
        send_verification_email_to_address(request, address)
    # The same answer whether or not the address is known: no account enumeration.
    messages.info(
        request,
        "If an unverified account uses that address, a new confirmation link is on its way.",
    )
    return redirect("account_email_verification_sent")
