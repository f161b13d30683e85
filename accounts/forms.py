from django import forms

from .models import User


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
