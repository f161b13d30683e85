from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.socialaccount.forms import SignupForm as AllauthSocialSignupForm
from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorDict

from .models import Namespace, TokenScope, User


class ProfileForm(forms.ModelForm):
    website = forms.URLField(
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text="Your site or blog, for example https://example.com",
    )

    class Meta:
        model = User
        fields = ["full_name", "company", "location", "website", "bio"]
        labels = {"full_name": "Full name", "bio": "About you"}
        help_texts = {
            "bio": "Shown on your public profile. Up to 1,000 characters.",
        }
        widgets = {"bio": forms.Textarea(attrs={"rows": 4})}


class DefaultPrivacyForm(forms.ModelForm):
    default_private = forms.TypedChoiceField(
        choices=[("false", "Public"), ("true", "Private")],
        coerce=lambda value: value == "true",
        widget=forms.RadioSelect,
        label="Default repository privacy",
        help_text="Repositories created by pushing a new image start with this visibility.",
    )

    class Meta:
        model = Namespace
        fields = ["default_private"]

    def saved_message(self) -> str:
        kind = "private" if self.instance.default_private else "public"
        return f"New repositories you push will be {kind}."


class ResendVerificationForm(forms.Form):
    email = forms.EmailField(label="Email address")


class AccessTokenForm(forms.Form):
    EXPIRY_CHOICES = [("", "Never"), ("30", "30 days"), ("60", "60 days"), ("90", "90 days")]

    label = forms.CharField(
        max_length=100,
        label="Description",
        help_text="What the token is for, e.g. 'CI on build server'.",
        error_messages={"required": "Give the token a description."},
    )
    scope = forms.ChoiceField(
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        label="Access permissions",
        help_text="What the token may do on your repositories; it can never do more than you.",
    )
    expires_in_days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        label="Expiration",
    )


class SocialSignupForm(AllauthSocialSignupForm):
    """Signing up through GitHub when the GitHub login cannot be the username.

    The form opens with the reason already under the username field, instead of after a
    first submit of a name that was never going to work.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.is_bound or "username" not in self.fields:
            return
        try:
            get_account_adapter().clean_username(self.initial.get("username") or "")
        except ValidationError as error:
            self._errors = ErrorDict({"username": self.error_class(error.messages)})
