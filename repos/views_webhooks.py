"""A repository's webhooks settings (admins): add one (its secret is shown once), list them
with their latest deliveries, open one's delivery log, delete one."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .access import Permission, Principal, get_repository_or_404
from .models import Repository, Webhook
from .views_pages import repository_header
from .webhooks import SIGNATURE_HEADER, new_secret, status_of

LOG_LENGTH = 50
URL_MESSAGE = "Enter an http:// or https:// address, such as https://ci.example.com/hooks/docker."
NEW_SECRET_KEY = "webhook-secret"  # session: the secret of the webhook just added, shown once


class WebhookForm(forms.ModelForm):
    url = forms.CharField(
        label="Webhook URL",
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"], message=URL_MESSAGE)],
        widget=forms.URLInput(attrs={"placeholder": "https://ci.example.com/hooks/docker"}),
    )

    class Meta:
        model = Webhook
        fields = ["name", "url"]
        labels = {"name": "Webhook name"}

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if self.instance.repository.webhooks.filter(url=url).exists():
            raise ValidationError("This repository already calls that address.")
        return url


def _administered(request: HttpRequest, namespace: str, name: str) -> Repository:
    """404 to those who cannot see the repository, 403 to those who see it without admin."""
    return get_repository_or_404(Principal(user=request.user), namespace, name, Permission.ADMIN)


def _back(repository: Repository) -> HttpResponse:
    return redirect("repos:webhooks", repository.namespace.name, repository.name)


@login_required
def webhooks(request: HttpRequest, namespace: str, name: str) -> HttpResponse:
    repository = _administered(request, namespace, name)
    form = WebhookForm(request.POST or None, instance=Webhook(repository=repository))
    if request.method == "POST" and form.is_valid():
        form.instance.secret = new_secret()
        webhook = form.save()
        request.session[NEW_SECRET_KEY] = webhook.pk
        messages.success(request, f"The webhook {webhook.name} will be called after every push.")
        return _back(repository)
    hooks = list(
        repository.webhooks.annotate(
            delivery_count=Count("deliveries"),
            delivered_count=Count("deliveries", filter=Q(deliveries__delivered_at__isnull=False)),
            last_delivery=Max("deliveries__created"),
        ).order_by("name", "pk")
    )
    new_secret_for = request.session.pop(NEW_SECRET_KEY, None)
    context = {
        **repository_header(request, Principal(user=request.user), repository, "settings"),
        "form": form,
        "webhooks": hooks,
        "new_webhook": next((hook for hook in hooks if hook.pk == new_secret_for), None),
        "signature_header": SIGNATURE_HEADER,
    }
    return render(request, "repos/settings_webhooks.html", context)


@login_required
def webhook_detail(
    request: HttpRequest, namespace: str, name: str, webhook_id: int
) -> HttpResponse:
    """The webhook and its delivery log, newest first."""
    repository = _administered(request, namespace, name)
    webhook = get_object_or_404(repository.webhooks, pk=webhook_id)
    deliveries = list(webhook.deliveries.order_by("-created", "-pk")[:LOG_LENGTH])
    for delivery in deliveries:
        delivery.status = status_of(delivery)
    context = {
        **repository_header(request, Principal(user=request.user), repository, "settings"),
        "webhook": webhook,
        "deliveries": deliveries,
        "log_length": LOG_LENGTH,
        "signature_header": SIGNATURE_HEADER,
    }
    return render(request, "repos/settings_webhook.html", context)


@login_required
@require_POST
def webhook_delete(
    request: HttpRequest, namespace: str, name: str, webhook_id: int
) -> HttpResponse:
    repository = _administered(request, namespace, name)
    webhook = get_object_or_404(repository.webhooks, pk=webhook_id)
    webhook.delete()
    messages.success(request, f"The webhook {webhook.name} was deleted.")
    return _back(repository)
