import factory
from allauth.account.models import EmailAddress

from accounts.models import User

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def verified(user, create, extracted, **kwargs):
        """verified=False leaves the address unconfirmed, as right after signup."""
        if create:
            EmailAddress.objects.create(
                user=user, email=user.email, primary=True, verified=extracted is not False
            )


class BuildSourceFactory(factory.django.DjangoModelFactory):
    """A connected GitHub repository; pass repository=."""

    class Meta:
        model = "builds.BuildSource"

    github_id = factory.Sequence(lambda n: 1000 + n)
    github_full_name = factory.Sequence(lambda n: f"octo/app{n}")
    clone_url = factory.LazyAttribute(lambda s: f"https://github.com/{s.github_full_name}.git")
    html_url = factory.LazyAttribute(lambda s: f"https://github.com/{s.github_full_name}")
    webhook_secret = "s3cret"


class BuildRuleFactory(factory.django.DjangoModelFactory):
    """Branch main → latest; pass source=."""

    class Meta:
        model = "builds.BuildRule"

    source_type = "branch"
    source_ref = "main"
    docker_tag = "latest"


class BuildFactory(factory.django.DjangoModelFactory):
    """A build row as the queue would make it, never run; pass repository= (and rule=)."""

    class Meta:
        model = "builds.Build"

    source_type = "branch"
    source_ref = "main"
    commit = factory.Sequence(lambda n: f"{n:040x}")
    commit_message = "Build me"
    clone_url = "https://github.com/octo/app.git"
    docker_tag = "latest"
    dockerfile = "Dockerfile"
    context = "/"
    trigger = "push"
