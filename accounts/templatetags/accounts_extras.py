from allauth.account.internal.stagekit import get_pending_stage
from allauth.account.models import EmailAddress
from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def pending_verification_email(context) -> str:
    """The unverified address of the sign-in or sign-up waiting in this session, if any."""
    request = context.get("request")
    stage = get_pending_stage(request) if request else None
    user = stage.login.user if stage else None
    if not user or not user.pk:
        return ""
    address = EmailAddress.objects.filter(user=user, verified=False).first()
    return address.email if address else ""
