from django import template
from django.conf import settings

register = template.Library()

PALETTE = ["#2563eb", "#7c3aed", "#db2777", "#ea580c", "#16a34a", "#0891b2", "#4f46e5", "#ca8a04"]


@register.inclusion_tag("components/avatar.html")
def avatar(user, size: int = 40) -> dict:
    """Initials on a colour picked from the name; a Gravatar drawn over them when it exists."""
    name = getattr(user, "display_name", "") or user.username
    initials = "".join(part[0] for part in name.split()[:2]).upper() or user.username[:1].upper()
    gravatar = ""
    if settings.AVATAR_GRAVATAR and user.email:
        # d=blank: a transparent image when the address has no Gravatar, so initials show.
        gravatar = f"https://www.gravatar.com/avatar/{user.email_hash}?s={size * 2}&d=blank"
    return {
        "initials": initials,
        "colour": PALETTE[sum(map(ord, user.username)) % len(PALETTE)],
        "gravatar": gravatar,
        "size": size,
        "name": name,
    }
