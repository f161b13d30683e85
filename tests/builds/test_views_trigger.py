"""The Trigger button of a build rule: it asks GitHub (the double, over HTTP) for the head
commit of the rule's branch or tag and queues a build of it. Nothing runs here: the queued
task is captured, not executed."""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from builds.models import Build, BuildRule, BuildSource
from tests.builds.test_views import BUILDS, make_writer, text
from tests.factories import BuildRuleFactory, BuildSourceFactory
from tests.support.github_double import GitHubRepo, link_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def repo(github) -> GitHubRepo:
    """Alice-GH/app on GitHub: main, a branch feature/x, a lightweight tag v1.2.3."""
    repo = github.add_repository("Alice-GH", "app", private=True)
    first = repo.commit({"Dockerfile": "FROM scratch\n"}, "First")
    repo.tag("v1.2.3", first)
    repo.commit({"Dockerfile": "FROM busybox\n"}, "Use busybox\n\nIt has a shell.")
    repo.commit({"feature.txt": "x"}, "Feature work", branch="feature/x")
    return repo


@pytest.fixture
def source(app, alice, github, repo) -> BuildSource:
    """acme/app builds from Alice-GH/app, connected by alice with her linked account."""
    link_account(github, alice, "Alice-GH")
    return BuildSourceFactory(
        repository=app,
        github_full_name=repo.full_name,
        clone_url=repo.clone_url,
        html_url=repo.html_url,
        github_private=True,
        connected_by=alice,
    )


def trigger(client: Client, rule: BuildRule, capture) -> tuple:
    with capture(execute=False) as callbacks:
        response = client.post(f"{BUILDS}rules/{rule.pk}/trigger/", follow=True)
    return response, callbacks


def test_a_writer_triggers_the_head_of_a_branch(
    source, repo, github, bob, bob_client, django_capture_on_commit_callbacks
):
    make_writer()
    rule = BuildRuleFactory(source=source, source_ref="main", docker_tag="latest")
    response, callbacks = trigger(bob_client, rule, django_capture_on_commit_callbacks)

    build = Build.objects.get()
    head = repo.ref("refs/heads/main")
    assert (build.source_type, build.source_ref, build.commit) == ("branch", "main", head)
    assert build.commit_message == "Use busybox\n\nIt has a shell."
    assert (build.docker_tag, build.clone_url, build.rule) == ("latest", repo.clone_url, rule)
    assert (build.trigger, build.triggered_by, build.status) == ("manual", bob, "queued")
    assert len(callbacks) == 1  # the task, sent once the request's transaction commits
    assert response.redirect_chain == [(f"{BUILDS}{build.pk}/", 302)]
    page = text(response)
    assert f"Build #{build.pk} of branch main at {head[:7]} is queued." in page
    assert f'<a href="{repo.html_url}/commit/{head}" rel="noopener"><code>{head[:7]}</code>' in page
    assert 'Trigger button, by <a href="/u/bob/">bob</a>' in page
    # bob has no GitHub account linked: the source's is asked.
    calls = github.requests_to(f"/api/v3/repos/{repo.full_name}/git/ref/heads/main")
    assert [call.token.user.login for call in calls] == ["Alice-GH"]


def test_a_tag_rule_builds_the_tag_under_its_docker_tag(
    source, repo, alice_client, django_capture_on_commit_callbacks
):
    rule = BuildRuleFactory(
        source=source, source_type="tag", source_ref="v1.2.3", docker_tag="release-{sourceref}"
    )
    trigger(alice_client, rule, django_capture_on_commit_callbacks)
    build = Build.objects.get()
    assert (build.source_type, build.source_ref) == ("tag", "v1.2.3")
    assert build.commit == repo.ref("refs/tags/v1.2.3") and build.commit_message == "First"
    assert build.docker_tag == "release-v1.2.3"


def test_a_branch_with_a_slash_makes_a_tag_with_a_dash(
    source, repo, alice_client, django_capture_on_commit_callbacks
):
    rule = BuildRuleFactory(source=source, source_ref="feature/x", docker_tag="{sourceref}")
    trigger(alice_client, rule, django_capture_on_commit_callbacks)
    build = Build.objects.get()
    assert build.docker_tag == "feature-x" and build.commit == repo.ref("refs/heads/feature/x")


def test_the_users_own_linked_account_is_asked_first(
    source, repo, github, bob, bob_client, django_capture_on_commit_callbacks
):
    make_writer()
    repo.add_collaborator("Bob-GH", "pull")
    link_account(github, bob, "Bob-GH")
    rule = BuildRuleFactory(source=source)
    trigger(bob_client, rule, django_capture_on_commit_callbacks)
    assert Build.objects.get().triggered_by == bob
    calls = github.requests_to(f"/api/v3/repos/{repo.full_name}/git/ref/heads/main")
    assert [call.token.user.login for call in calls] == ["Bob-GH"]


def refused(client: Client, rule: BuildRule, capture) -> str:
    response, callbacks = trigger(client, rule, capture)
    assert response.redirect_chain == [(BUILDS, 302)]
    assert not Build.objects.exists() and callbacks == []
    return text(response).replace("&#x27;", "'")


def test_a_branch_github_does_not_have_is_said_and_nothing_is_queued(
    source, alice_client, django_capture_on_commit_callbacks
):
    rule = BuildRuleFactory(source=source, source_ref="gone")
    page = refused(alice_client, rule, django_capture_on_commit_callbacks)
    assert "There is no branch 'gone' in Alice-GH/app on GitHub." in page


def test_without_a_linked_account_to_ask_nothing_is_queued(
    source, alice_client, django_capture_on_commit_callbacks
):
    SocialAccount.objects.all().delete()
    BuildSource.objects.update(connected_by=None)
    rule = BuildRuleFactory(source=source)
    page = refused(alice_client, rule, django_capture_on_commit_callbacks)
    assert "No GitHub account is linked: link one in Settings › Linked accounts first." in page


def test_a_pattern_cannot_be_triggered_by_hand(
    source, github, alice_client, django_capture_on_commit_callbacks
):
    rule = BuildRuleFactory(
        source=source, source_type="tag", source_ref="/^v([0-9.]+)$/", docker_tag="{\\1}"
    )
    response, callbacks = trigger(alice_client, rule, django_capture_on_commit_callbacks)
    assert "The rule /^v([0-9.]+)$/ is a pattern: it builds the tags pushed that match it" in (
        text(response)
    )
    assert not Build.objects.exists() and callbacks == []
    assert not github.requests_to(f"/api/v3/repos/{source.github_full_name}/git/ref/tags/v")


def test_only_those_who_may_push_trigger(source, bob_client, charlie_client):
    rule = BuildRuleFactory(source=source)
    url = f"{BUILDS}rules/{rule.pk}/trigger/"
    assert bob_client.post(url).status_code == 403
    assert charlie_client.post(url).status_code == 404
    anonymous = Client().post(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    make_writer()
    assert bob_client.get(url).status_code == 405
    assert not Build.objects.exists()
