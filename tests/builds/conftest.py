"""Fixtures of the builds pages' tests: alice owns `acme`; bob is in acme's `crew` team, which
may read the private `acme/app`; charlie is outside everything. A test file may define its own
`source` (as test_views_trigger.py does, against the GitHub double)."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from builds.models import Build, BuildRule, BuildSource
from orgs.models import Organization, Team, TeamMembership, TeamPermission
from repos.models import Repository
from tests.factories import BuildFactory, BuildRuleFactory, BuildSourceFactory
from tests.support.github_double import GitHubDouble


@pytest.fixture
def acme(alice, bob) -> Organization:
    organization = Organization.create("acme", alice)
    crew = Team.objects.create(organization=organization, name="crew")
    TeamMembership.objects.create(team=crew, user=bob)
    app = Repository.objects.create(namespace=organization.namespace, name="app", is_private=True)
    TeamPermission.objects.create(team=crew, repository=app, level="read")
    return organization


@pytest.fixture
def app(acme) -> Repository:
    return Repository.objects.get(namespace__name="acme", name="app")


@pytest.fixture
def source(app, alice) -> BuildSource:
    return BuildSourceFactory(
        repository=app,
        github_full_name="octo/app",
        clone_url="https://github.com/octo/app.git",
        html_url="https://github.com/octo/app",
        connected_by=alice,
    )


@pytest.fixture
def rule(source) -> BuildRule:
    return BuildRuleFactory(source=source)


@pytest.fixture
def build(app, rule) -> Build:
    """Running for a minute, with some log."""
    return BuildFactory(
        repository=app,
        rule=rule,
        commit="a1b2c3d4e5" + "0" * 30,
        commit_message="Add the healthcheck",
        status=Build.Status.RUNNING,
        started=timezone.now() - timedelta(seconds=61),
        log="STEP 1/3: FROM alpine\nSTEP 2/3: RUN mkdir /mynewdir\n",
    )


@pytest.fixture(scope="module")
def github_server() -> Iterator[GitHubDouble]:
    """The GitHub double on loopback; a test's `github` fixture resets it and points at it."""
    double = GitHubDouble()
    double.start()
    yield double
    double.stop()
