import secrets
from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Namespace, hash_secret
from accounts.namespaces import NAMESPACE_RE, NAMESPACE_RULE
from repos.models import Repository

OWNERS_TEAM = "owners"
INVITATION_LIFETIME = timedelta(days=7)


class OrganizationQuerySet(models.QuerySet):
    def for_user(self, user) -> "OrganizationQuerySet":
        """Organizations the user is a member of (in any team)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(teams__members=user).distinct()


class Organization(models.Model):
    namespace = models.OneToOneField(
        Namespace, on_delete=models.PROTECT, related_name="organization"
    )
    full_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True, help_text="Where people can reach the organization.")
    company = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=100, blank=True)
    website = models.URLField(max_length=200, blank=True)
    members_can_create_repositories = models.BooleanField(
        default=False,
        help_text="Members of any team may create repositories, not only the owners.",
    )
    created = models.DateTimeField(auto_now_add=True)

    objects = OrganizationQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("orgs:detail", args=[self.name])

    @property
    def name(self) -> str:
        return self.namespace.name

    @property
    def display_name(self) -> str:
        return self.full_name or self.name

    @property
    def owners_team(self) -> "Team":
        return self.teams.get(name=OWNERS_TEAM)

    @classmethod
    @transaction.atomic
    def create(cls, name: str, owner, **fields) -> "Organization":
        """Claim the name in the shared namespace space; the creator becomes its first owner.

        Raises IntegrityError when a user or organization already has the name."""
        namespace = Namespace.objects.create(name=name, kind=Namespace.Kind.ORG)
        organization = cls.objects.create(namespace=namespace, **fields)
        owners = Team.objects.create(
            organization=organization,
            name=OWNERS_TEAM,
            description="Full control of the organization and all its repositories.",
        )
        TeamMembership.objects.create(team=owners, user=owner)
        return organization


class Team(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(
        max_length=30,
        validators=[RegexValidator(NAMESPACE_RE, f"Not a valid team name. {NAMESPACE_RULE}")],
        help_text=NAMESPACE_RULE,
    )
    description = models.CharField(max_length=200, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="unique_team_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.organization.name}/{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("orgs:team", args=[self.organization.name, self.name])

    @property
    def is_owners(self) -> bool:
        return self.name == OWNERS_TEAM


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class TeamPermission(models.Model):
    """A team's level on one repository of its organization."""

    class Level(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"
        ADMIN = "admin", "Admin"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="permissions")
    repository = models.ForeignKey(
        Repository, on_delete=models.CASCADE, related_name="team_permissions"
    )
    level = models.CharField(max_length=5, choices=Level.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "repository"], name="unique_team_permission")
        ]

    def __str__(self) -> str:
        return f"{self.team} {self.level} on {self.repository}"


class Collaborator(models.Model):
    """Someone given pull and push on a repository in a user's namespace."""

    repository = models.ForeignKey(
        Repository, on_delete=models.CASCADE, related_name="collaborators"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collaborations"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["repository", "user"], name="unique_collaborator")
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.repository}"


class InvitationQuerySet(models.QuerySet):
    def pending(self) -> "InvitationQuerySet":
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )


class Invitation(models.Model):
    """An invitation to join a team, to a username or an email address, accepted by link."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    invitee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="invitations",
    )
    email = models.EmailField(blank=True)
    inviter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    # Kept, not deleted, so that its link can say it was revoked.
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"invitation to {self.team} for {self.invitee or self.email}"

    @classmethod
    def issue(
        cls, team: Team, inviter, *, invitee=None, email: str = ""
    ) -> tuple["Invitation", str]:
        """A new invitation and the secret for its link (only its hash is kept)."""
        secret = secrets.token_urlsafe(32)
        invitation = cls.objects.create(
            team=team,
            inviter=inviter,
            invitee=invitee,
            email=email,
            token_hash=hash_secret(secret),
            expires_at=timezone.now() + INVITATION_LIFETIME,
        )
        return invitation, secret

    @classmethod
    def find(cls, secret: str) -> "Invitation | None":
        return (
            cls.objects.select_related("team__organization__namespace", "invitee")
            .filter(token_hash=hash_secret(secret))
            .first()
        )

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
