"""The build status badge: an SVG of the latest build's outcome, never cached, and as secret as
the repository."""

import re

import pytest
from django.test import Client

from builds.models import Build
from repos.models import Repository
from tests.builds.test_views import BUILDS
from tests.factories import BuildFactory

pytestmark = pytest.mark.django_db

BADGE = f"{BUILDS}badge.svg"


def badge(client: Client, query: str = "") -> str:
    response = client.get(BADGE + query)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Cache-Control"] == "no-cache"
    svg = response.content.decode()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    return re.search(r"<title>(.*?)</title>", svg).group(1)


def built(app, status: str, tag: str = "latest") -> Build:
    return BuildFactory(repository=app, status=status, docker_tag=tag)


def test_the_badge_says_the_latest_builds_outcome(app, bob_client):
    assert badge(bob_client) == "build: none"
    built(app, Build.Status.SUCCESS)
    assert badge(bob_client) == "build: passing"
    built(app, Build.Status.FAILED)
    assert badge(bob_client) == "build: failing"
    built(app, Build.Status.QUEUED)
    assert badge(bob_client) == "build: running"
    Build.objects.filter(status=Build.Status.QUEUED).update(status=Build.Status.RUNNING)
    assert badge(bob_client) == "build: running"
    Build.objects.filter(status=Build.Status.RUNNING).update(status=Build.Status.SUCCESS)
    assert badge(bob_client) == "build: passing"


def test_a_cancelled_build_is_passed_over(app, bob_client):
    built(app, Build.Status.FAILED)
    built(app, Build.Status.CANCELLED)
    assert badge(bob_client) == "build: failing"


def test_the_badge_follows_one_docker_tag(app, bob_client):
    built(app, Build.Status.SUCCESS, tag="latest")
    built(app, Build.Status.FAILED, tag="edge")
    assert badge(bob_client) == "build: failing"
    assert badge(bob_client, "?tag=latest") == "build: passing"
    assert badge(bob_client, "?tag=edge") == "build: failing"
    assert badge(bob_client, "?tag=nothing") == "build: none"


def test_the_colours_and_sizes_follow_the_message(app, bob_client):
    built(app, Build.Status.SUCCESS)
    svg = bob_client.get(BADGE).content.decode()
    assert 'fill="#4c1"' in svg
    width = int(re.search(r'width="(\d+)" height="20"', svg).group(1))
    label, message = (
        int(w) for w in re.findall(r'<rect (?:x="\d+" )?width="(\d+)" height="20" fill="#', svg)
    )
    assert width == label + message and label > 30 and message > 40


def test_a_private_repositorys_badge_is_as_secret_as_it(app, alice_client, charlie_client):
    assert alice_client.get(BADGE).status_code == 200
    assert charlie_client.get(BADGE).status_code == 404
    assert Client().get(BADGE).status_code == 404
    assert Client().get("/r/acme/nothing/builds/badge.svg").status_code == 404
    Repository.objects.update(is_private=False)
    assert badge(Client()) == "build: none"
