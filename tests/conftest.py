import pytest
from django.core.cache import cache
from django.test import Client

import hub.celery
from orgs.models import Organization, Team, TeamMembership, TeamPermission
from repos.models import Repository
from tests.factories import PASSWORD, UserFactory


@pytest.fixture(autouse=True)
def _fast_site(settings, request):
    settings.PASSWORD_HASHERS = ["tests.support.hashers.QuickPBKDF2PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.AVATAR_GRAVATAR = False
    # Rate limits live in the cache (Redis in CI): every test starts with none used.
    cache.clear()
    # CI sets CELERY_BROKER_URL: in-process tests run tasks at once, in the test's transaction;
    # end-to-end tests leave them to the worker they start.
    eager = hub.celery.app.conf.task_always_eager
    if not request.node.get_closest_marker("e2e"):
        hub.celery.app.conf.task_always_eager = True
    yield
    hub.celery.app.conf.task_always_eager = eager


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def alice(db):
    """The owner in permission tests."""
    return UserFactory(username="alice", full_name="Alice Liddell")


@pytest.fixture
def bob(db):
    """A member with some granted permission."""
    return UserFactory(username="bob")


@pytest.fixture
def charlie(db):
    """An outsider."""
    return UserFactory(username="charlie")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    return signed_in(alice)


@pytest.fixture
def bob_client(bob) -> Client:
    return signed_in(bob)


@pytest.fixture
def charlie_client(charlie) -> Client:
    return signed_in(charlie)


@pytest.fixture
def acme(alice, bob) -> Organization:
    """alice's organization; bob is in its `crew` team, which may read the private acme/app."""
    organization = Organization.create("acme", alice)
    crew = Team.objects.create(organization=organization, name="crew")
    TeamMembership.objects.create(team=crew, user=bob)
    app = Repository.objects.create(namespace=organization.namespace, name="app", is_private=True)
    TeamPermission.objects.create(team=crew, repository=app, level="read")
    return organization
