"""How build pages write times: durations as static/js/build-log.js writes them too."""

from datetime import timedelta

from django import template
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """42s, 3m 05s, 1h 02m; an empty string for none."""
    if value is None:
        return ""
    seconds = max(0, round(value.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.filter
def ago(value) -> str:
    """The one largest unit: "2 hours ago", where timesince says "2 hours, 2 minutes"."""
    return f"{timesince(value, depth=1)} ago"
