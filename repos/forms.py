from django import forms

from accounts.models import User
from orgs.models import OWNERS_TEAM, Collaborator, Team, TeamPermission

from .models import Repository


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
