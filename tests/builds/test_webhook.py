"""POST /webhooks/github as GitHub's deliveries reach it: the GitHub double makes real commits,
builds the push events and signs them with each hook's secret; the deliveries come in through
Django's test client, so that the builds they queue are rows in this test's transaction whose
tasks never run (the worker is tested in test_builder*.py)."""

import hashlib
import hmac
import json
from urllib.parse import urlsplit

import pytest
from django.test import Client

from builds.models import Build, BuildRule, BuildSource
from repos.models import Repository
from tests.factories import BuildRuleFactory, BuildSourceFactory
from tests.support.github_double import ZERO_SHA, GitHubDouble, GitHubRepo

pytestmark = pytest.mark.django_db

WEBHOOK = "/webhooks/github"


def portal(url: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
    """Deliver to the portal in this process, as GitHub would over HTTP."""
    response = Client().generic(
        "POST",
        urlsplit(url).path,
        body,
        content_type=headers["Content-Type"],
        headers={name: value for name, value in headers.items() if name != "Content-Type"},
    )
    return response.status_code, response.content.decode()


@pytest.fixture
def github(github_server: GitHubDouble) -> GitHubDouble:
    github_server.reset()
    github_server.transport = portal
    return github_server


@pytest.fixture
def octo_app(github) -> GitHubRepo:
    repo = github.add_repository("octo", "app")
    repo.commit({"Dockerfile": "FROM busybox\n"}, "First image")
    return repo


def connect(repository: Repository, repo: GitHubRepo, secret: str = "s3cret") -> BuildSource:
    """A source as the Connect button leaves it: a row, and a hook with the same secret."""
    source = BuildSourceFactory(
        repository=repository,
        github_id=repo.id,
        github_full_name=repo.full_name,
        clone_url=repo.clone_url,
        webhook_secret=secret,
    )
    repo.add_hook(f"http://testserver{WEBHOOK}", secret)
    return source


@pytest.fixture
def source(app, octo_app) -> BuildSource:
    source = connect(app, octo_app)
    BuildRuleFactory(source=source)  # main → latest
    return source


def test_a_signed_push_queues_a_build_per_matching_rule(
    octo_app, source, app, alice, django_capture_on_commit_callbacks
):
    sha = octo_app.commit({"Dockerfile": "FROM busybox:1\n"}, "Pin busybox\n\nIt moved.")

    with django_capture_on_commit_callbacks() as queued:
        [delivery] = octo_app.push("refs/heads/main")

    [build] = Build.objects.all()
    assert (delivery.status, delivery.json()) == (202, {"builds": [build.pk]})
    assert build.repository == app
    assert build.rule == source.rules.get()
    assert (build.source_type, build.source_ref, build.docker_tag) == ("branch", "main", "latest")
    assert (build.commit, build.commit_message) == (sha, "Pin busybox\n\nIt moved.")
    assert (build.clone_url, build.dockerfile, build.context) == (
        octo_app.clone_url,
        "Dockerfile",
        "/",
    )
    assert (build.trigger, build.triggered_by, build.status) == ("push", None, "queued")
    # One task sent once the row is committed (not run: this test's transaction never is).
    assert len(queued) == 1


@pytest.mark.parametrize(
    ("hook_secret", "expected"),
    [("not-the-secret", 401), ("", 401)],
    ids=["wrong-secret", "unsigned"],
)
def test_a_push_not_signed_with_the_source_s_secret_builds_nothing(
    github, app, octo_app, hook_secret, expected
):
    source = BuildSourceFactory(
        repository=app, github_id=octo_app.id, github_full_name=octo_app.full_name
    )
    BuildRuleFactory(source=source)
    octo_app.add_hook(f"http://testserver{WEBHOOK}", hook_secret)

    [delivery] = octo_app.push("refs/heads/main")

    assert delivery.status == expected
    assert "X-Hub-Signature-256" in delivery.body
    assert not Build.objects.exists()


def test_a_tampered_body_is_refused(source, octo_app):
    [delivery] = octo_app.push("refs/heads/main")
    Build.objects.all().delete()
    tampered = delivery.request_body.replace(b'"refs/heads/main"', b'"refs/heads/evil"')

    response = Client().post(
        WEBHOOK,
        tampered,
        content_type="application/json",
        headers={
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "another",
            "X-Hub-Signature-256": delivery.headers["X-Hub-Signature-256"],
        },
    )

    assert response.status_code == 401
    assert not Build.objects.exists()


def test_github_s_ping_is_answered(source, octo_app):
    [delivery] = octo_app.ping()

    assert (delivery.event, delivery.status, delivery.json()) == ("ping", 200, {"ok": True})


def test_a_push_of_a_repository_no_one_connected_is_unknown(github, app):
    stranger = github.add_repository("octo", "stranger")
    stranger.commit({"Dockerfile": "FROM busybox\n"}, "Hello")
    stranger.add_hook(f"http://testserver{WEBHOOK}", "s3cret")

    [delivery] = stranger.push("refs/heads/main")

    assert (delivery.status, delivery.json()) == (404, {"error": "unknown source"})
    assert not Build.objects.exists()


def test_a_version_tag_builds_the_tag_its_pattern_makes(source, octo_app):
    rule = BuildRuleFactory(source=source, source_type="tag", source_ref=r"/^v([0-9.]+)$/")
    rule.docker_tag = r"{\1}"
    rule.save()
    sha = octo_app.ref("refs/heads/main")

    [delivery] = octo_app.push("refs/tags/v1.2.3", sha)

    [build] = Build.objects.all()
    assert delivery.status == 202
    assert (build.rule, build.source_type, build.source_ref) == (rule, "tag", "v1.2.3")
    assert (build.docker_tag, build.commit) == ("1.2.3", sha)


def test_an_annotated_tag_builds_the_commit_it_tags(source, octo_app):
    BuildRuleFactory(source=source, source_type="tag", source_ref="release")
    sha = octo_app.ref("refs/heads/main")
    octo_app.tag("release", sha, message="The release")

    [delivery] = octo_app.push("refs/tags/release")

    [build] = Build.objects.all()
    assert delivery.payload["after"] != sha  # the tag object
    assert (build.commit, build.docker_tag) == (sha, "latest")


def test_a_branch_no_rule_matches_builds_nothing(source, octo_app):
    octo_app.commit({"notes.md": "ideas"}, "Ideas", branch="ideas")

    [delivery] = octo_app.push("refs/heads/ideas")

    assert (delivery.status, delivery.json()) == (200, {"builds": []})
    assert not Build.objects.exists()


def test_a_rule_without_autobuild_waits_for_its_trigger_button(source, octo_app):
    BuildRule.objects.update(autobuild=False)

    [delivery] = octo_app.push("refs/heads/main")

    assert (delivery.status, delivery.json()) == (200, {"builds": []})
    assert not Build.objects.exists()


def test_a_deleted_branch_builds_nothing(source, octo_app):
    octo_app.push("refs/heads/main")
    Build.objects.all().delete()

    [delivery] = octo_app.push("refs/heads/main", ZERO_SHA)

    assert delivery.payload["deleted"] is True
    assert delivery.status == 200
    assert delivery.json()["builds"] == []
    assert not Build.objects.exists()


def test_a_redelivery_builds_once(github, source, octo_app):
    [delivery] = octo_app.push("refs/heads/main")

    again = github.redeliver(delivery)

    assert again.guid == delivery.guid
    assert (delivery.status, again.status) == (202, 200)
    assert again.json() == {"builds": [], "duplicate": True}
    assert Build.objects.count() == 1


def test_each_source_of_one_github_repository_builds_with_its_own_secret(source, octo_app, alice):
    other_repository = Repository.objects.create(namespace=source.repository.namespace, name="b")
    other = BuildSourceFactory(
        repository=other_repository,
        github_id=octo_app.id,
        github_full_name=octo_app.full_name,
        webhook_secret="another-secret",
    )
    BuildRuleFactory(source=other, docker_tag="edge")
    octo_app.add_hook(f"http://testserver{WEBHOOK}?b", "another-secret")

    deliveries = octo_app.push("refs/heads/main")

    assert [d.status for d in deliveries] == [202, 202]
    built = Build.objects.order_by("pk").values_list("repository__name", "docker_tag")
    assert list(built) == [("app", "latest"), ("b", "edge")]


def test_a_form_encoded_delivery_is_read_too(app, octo_app):
    source = BuildSourceFactory(
        repository=app, github_id=octo_app.id, github_full_name=octo_app.full_name
    )
    BuildRuleFactory(source=source)
    octo_app.add_hook(f"http://testserver{WEBHOOK}", source.webhook_secret, content_type="form")

    [delivery] = octo_app.push("refs/heads/main")

    assert delivery.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert delivery.status == 202
    assert Build.objects.count() == 1


def push(body: bytes, secret: str = "s3cret"):
    """A push delivery of this body, signed with the secret, as GitHub would sign it."""
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return Client().post(
        WEBHOOK,
        body,
        content_type="application/json",
        headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": signature},
    )


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2]", json.dumps({"ref": "refs/heads/main"}).encode()]
)
def test_a_malformed_push_is_a_bad_request(source, body):
    response = push(body)

    assert response.status_code == 400
    assert not Build.objects.exists()


def test_other_events_are_ignored(source):
    response = Client().post(
        WEBHOOK, b"{}", content_type="application/json", headers={"X-GitHub-Event": "issues"}
    )

    assert response.status_code == 204


def test_only_post_is_allowed():
    assert Client().get(WEBHOOK).status_code == 405


def test_a_push_whose_commit_is_not_a_sha_is_refused(source):
    payload = {
        "ref": "refs/heads/main",
        "after": "--upload-pack=touch /tmp/pwned",
        "repository": {"id": source.github_id},
    }
    response = push(json.dumps(payload).encode())

    assert response.status_code == 400
    assert "not a 40-digit hexadecimal sha" in response.json()["error"]
    assert not Build.objects.exists()
