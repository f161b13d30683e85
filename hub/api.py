"""Shared pieces of the Hub API: errors shaped as Docker Hub's ({"detail", "message"}), and
Docker Hub's pagination ({"count", "next", "previous", "results"}, `page` and `page_size`)."""

from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        message = _first_message(value)
        return message if field in {"detail", "non_field_errors"} else f"{field}: {message}"
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    return str(detail)


def exception_handler(exc, context) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is not None:
        detail = response.data
        message = _first_message(detail)
        response.data = {"detail": message, "message": message}
        if isinstance(detail, dict) and not set(detail) <= {"detail"}:
            response.data["errors"] = detail
    return response


class ErrorSerializer(serializers.Serializer):
    """The shape of every Hub API error (hub.api.exception_handler)."""

    detail = serializers.CharField()
    message = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Every message, by field, when the request body was refused.",
    )


class HubPagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
