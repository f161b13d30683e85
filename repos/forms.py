from django import forms

from accounts.models import Namespace, User
from orgs.models import OWNERS_TEAM, Collaborator, Team, TeamPermission

from .models import Repository
from .names import validate_repository_name


class TeamChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, team: Team) -> str:
        return team.name


class TeamPermissionForm(forms.Form):
    """Give a team of the repository's organization a level on it."""

    team = TeamChoiceField(
        queryset=Team.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of the organization's teams."},
    )
    level = forms.ChoiceField(choices=TeamPermission.Level.choices, initial="read")

    def __init__(self, *args, repository: Repository, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.repository = repository
        # The owners team already has everything; a team has at most one level.
        self.fields["team"].queryset = (
            Team.objects.filter(organization__namespace=repository.namespace)
            .exclude(name=OWNERS_TEAM)
            .exclude(permissions__repository=repository)
        )

    def save(self) -> TeamPermission:
        return TeamPermission.objects.create(
            team=self.cleaned_data["team"],
            repository=self.repository,
            level=self.cleaned_data["level"],
        )


class LevelForm(forms.Form):
    level = forms.ChoiceField(choices=TeamPermission.Level.choices)


class CollaboratorForm(forms.Form):
    """Give someone pull and push on a repository of a user."""

    username = forms.CharField(max_length=30)

    def __init__(self, *args, repository: Repository, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.repository = repository

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].strip().lower()
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"There is no user named '{username}'.")
        if username == self.repository.namespace.name:
            raise forms.ValidationError(f"{username} owns this repository already.")
        if self.repository.collaborators.filter(user=user).exists():
            raise forms.ValidationError(f"{username} is a collaborator already.")
        return user

    def save(self) -> Collaborator:
        return Collaborator.objects.create(
            repository=self.repository, user=self.cleaned_data["username"]
        )


class RepositoryCreateForm(forms.Form):
    """A new, empty repository in one of the namespaces the user may create in."""

    namespace = forms.ChoiceField(label="Namespace")
    name = forms.CharField(
        max_length=224,
        help_text="Lowercase letters, digits and separators ('.', '_', '-'); '/' between parts.",
    )
    description = forms.CharField(
        max_length=100, required=False, label="Short description", help_text="Up to 100 characters."
    )
    is_private = forms.TypedChoiceField(
        choices=[
            ("false", "Public: anyone can see and pull it"),
            ("true", "Private: only you and those you grant access"),
        ],
        coerce=lambda value: value == "true",
        widget=forms.RadioSelect,
        label="Visibility",
    )

    def __init__(self, *args, namespaces: list[Namespace], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.namespaces = {namespace.name: namespace for namespace in namespaces}
        self.fields["namespace"].choices = [(name, name) for name in self.namespaces]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        validate_repository_name(name)
        return name

    def clean(self) -> dict:
        data = super().clean()
        namespace, name = self.namespaces.get(data.get("namespace", "")), data.get("name")
        if namespace is None or not name:
            return data
        data["namespace"] = namespace
        if len(namespace.name) + 1 + len(name) > 255:
            self.add_error("name", "The whole name, namespace included, is at most 255 characters.")
        elif Repository.objects.active().filter(namespace__name=namespace.name, name=name).exists():
            self.add_error("name", f"{namespace.name}/{name} already exists.")
        return data
