from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError

from .namespaces import is_namespace_taken, validate_namespace_name


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
