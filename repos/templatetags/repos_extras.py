from django import template

register = template.Library()


@register.filter
def compact(number: int) -> str:
    """A count as Docker Hub shows pulls: 155, 1.5K, 305.7K, 93.3M, 3.5B."""
    value, suffix = float(number), ""
    for larger in ("K", "M", "B"):
        if round(value, 1) < 1000:
            break
        value, suffix = value / 1000, larger
    return f"{value:.1f}".removesuffix(".0") + suffix if suffix else str(int(number))
