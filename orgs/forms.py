from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.models import User
from accounts.namespaces import (
    NAMESPACE_RE,
    NAMESPACE_RULE,
    is_namespace_taken,
    validate_namespace_name,
)
from repos.models import Repository

from .models import Organization, Team, TeamPermission

PRIVACY_CHOICES = [("false", "Public"), ("true", "Private")]


class OrganizationCreateForm(forms.ModelForm):
    name = forms.CharField(
        max_length=30,
        label="Organization name",
        help_text=f"Part of every image name, as in <code>acme/app</code>. {NAMESPACE_RULE}",
    )

    class Meta:
        model = Organization
        fields = ["name", "full_name", "email"]
        labels = {"full_name": "Full name", "email": "Contact email"}
        help_texts = {"full_name": "Shown on the organization's page, e.g. 'Acme Corporation'."}

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip().lower()
        validate_namespace_name(name)
        if is_namespace_taken(name):
            raise ValidationError(f"'{name}' is already taken by a user or an organization.")
        return name


class OrganizationProfileForm(forms.ModelForm):
    website = forms.URLField(
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text="For example https://example.com",
    )

    class Meta:
        model = Organization
        fields = ["full_name", "email", "company", "location", "website"]
        labels = {"full_name": "Full name", "email": "Contact email"}


class RepositoryDefaultsForm(forms.Form):
    default_private = forms.TypedChoiceField(
        choices=PRIVACY_CHOICES,
        coerce=lambda value: value == "true",
        widget=forms.RadioSelect,
        label="Default repository privacy",
        help_text="Repositories created by pushing a new image start with this visibility.",
    )
    members_can_create_repositories = forms.BooleanField(
        required=False,
        label="Members may create repositories",
        help_text="Otherwise only owners may create repositories (also by pushing a new name).",
    )

    def __init__(self, *args, organization: Organization, **kwargs) -> None:
        self.organization = organization
        initial = {
            "default_private": "true" if organization.namespace.default_private else "false",
            "members_can_create_repositories": organization.members_can_create_repositories,
        }
        super().__init__(*args, initial=initial, **kwargs)

    def save(self) -> None:
        namespace = self.organization.namespace
        namespace.default_private = self.cleaned_data["default_private"]
        namespace.save(update_fields=["default_private"])
        self.organization.members_can_create_repositories = self.cleaned_data[
            "members_can_create_repositories"
        ]
        self.organization.save(update_fields=["members_can_create_repositories"])


class ConfirmNameForm(forms.Form):
    """Typing the name of what is about to be deleted."""

    confirm = forms.CharField(label="Type the organization name to confirm")

    def __init__(self, *args, expected: str, **kwargs) -> None:
        self.expected = expected
        super().__init__(*args, **kwargs)

    def clean_confirm(self) -> str:
        confirm = self.cleaned_data["confirm"].strip()
        if confirm != self.expected:
            raise ValidationError(f"Type '{self.expected}' exactly to confirm.")
        return confirm


class TeamForm(forms.ModelForm):
    name = forms.CharField(max_length=30, label="Team name", help_text=NAMESPACE_RULE)

    class Meta:
        model = Team
        fields = ["name", "description"]
        widgets = {"description": forms.TextInput()}
        help_texts = {"description": "What the team is for. Up to 200 characters."}

    def __init__(self, *args, organization: Organization, **kwargs) -> None:
        self.organization = organization
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.is_owners:
            self.fields["name"].disabled = True
            self.fields["name"].help_text = "The owners team keeps its name."

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip().lower()
        if not NAMESPACE_RE.match(name):
            raise ValidationError(f"'{name}' is not a valid team name. {NAMESPACE_RULE}")
        others = self.organization.teams.exclude(pk=self.instance.pk)
        if others.filter(name=name).exists():
            raise ValidationError(f"{self.organization.name} already has a team named '{name}'.")
        return name


def find_active_user(username: str) -> User:
    user = User.objects.filter(username=username.strip().lower(), is_active=True).first()
    if user is None:
        raise ValidationError(f"There is no user named '{username.strip()}'.")
    return user


class AddMemberForm(forms.Form):
    username = forms.CharField(
        max_length=30, label="Username", help_text="Adds them to the team at once."
    )

    def clean_username(self) -> User:
        return find_active_user(self.cleaned_data["username"])


class InviteForm(forms.Form):
    """An invitation to a username or to an email address; cleaned to (invitee, email)."""

    who = forms.CharField(
        max_length=254,
        label="Email address or username",
        help_text="They get an email with a link to accept, valid for 7 days.",
    )

    def clean_who(self) -> tuple[User | None, str]:
        who = self.cleaned_data["who"].strip()
        if "@" not in who:
            return find_active_user(who), ""
        try:
            validate_email(who)
        except ValidationError:
            raise ValidationError(f"'{who}' is not a valid email address.") from None
        return None, who


class TeamPermissionForm(forms.Form):
    repository = forms.ModelChoiceField(
        queryset=Repository.objects.none(),
        empty_label="Choose a repository",
        error_messages={"invalid_choice": "Choose one of the organization's repositories."},
    )
    level = forms.ChoiceField(
        choices=TeamPermission.Level.choices,
        initial=TeamPermission.Level.READ,
        label="Access",
    )

    def __init__(self, *args, team: Team, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["repository"].queryset = (
            Repository.objects.active()
            .filter(namespace=team.organization.namespace)
            .select_related("namespace")
            .order_by("name")
        )
        self.fields["repository"].label_from_instance = lambda repository: repository.name
