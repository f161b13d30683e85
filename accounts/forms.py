from django import forms

from .models import TokenScope, User


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
