"""Sending an invitation to join a team: one email, the same from the web and the Hub API."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from .models import Invitation


def send_invitation(invitation: Invitation, secret: str) -> None:
    """Email the invitee (their account's address, or the address invited) the accept link;
    the secret is only in the email. Raises OSError (smtplib's errors included) if the mail
    server refuses it."""
    team = invitation.team
    context = {
        "invitation": invitation,
        "team": team,
        "organization": team.organization,
        "inviter": invitation.inviter,
        "accept_url": settings.HUB_URL + reverse("orgs:invitation", args=[secret]),
        "HUB_NAME": settings.HUB_NAME,
    }
    subject = render_to_string("orgs/email/invitation_subject.txt", context)
    send_mail(
        " ".join(subject.split()),
        render_to_string("orgs/email/invitation_message.txt", context),
        None,
        [invitation.invitee.email if invitation.invitee else invitation.email],
    )
