"""Fixtures of the builds pages' tests: alice owns `acme`; bob is in acme's `crew` team, which
may read the private `acme/app`; charlie is outside everything. A test file may define its own
`source` (as test_views_trigger.py does, against the GitHub double)."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from builds.models import Build, BuildRule, BuildSource
from repos.models import Repository
from tests.factories import BuildFactory, BuildRuleFactory, BuildSourceFactory
from tests.support.github_double import GitHubDouble


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


@pytest.fixture
def github(github_server: GitHubDouble, settings) -> GitHubDouble:
    """The double with nothing in it, and Dockyard pointed at it."""
    github_server.reset()
    settings.GITHUB_URL = github_server.url
    return github_server
