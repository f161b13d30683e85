"""Adding, editing and deleting build rules (admins only), and what the form refuses: each
refusal says what is allowed."""

import pytest
from django.test import Client

from builds.models import BuildRule
from tests.builds.test_views import BUILDS, make_writer, text
from tests.factories import BuildFactory

pytestmark = pytest.mark.django_db

NEW = f"{BUILDS}rules/new/"
GOOD = {
    "source_type": "branch",
    "source_ref": "main",
    "docker_tag": "latest",
    "dockerfile": "Dockerfile",
    "context": "/",
    "autobuild": "on",
    "build_args": "",
}


def test_an_admin_adds_a_rule(source, alice_client):
    form = text(alice_client.get(NEW))
    assert "New build rule" in form and "octo/app" in form
    response = alice_client.post(
        NEW,
        {
            **GOOD,
            "source_type": "tag",
            "source_ref": "/^v([0-9.]+)$/",
            "docker_tag": "release-{\\1}",
            "dockerfile": "docker/Dockerfile.prod",
            "context": "/app",
            "build_args": "VERSION=1.2\n\nGREETING = hello = world \n",
        },
        follow=True,
    )
    assert response.redirect_chain == [(BUILDS, 302)]
    rule = BuildRule.objects.get()
    assert (rule.source, rule.source_type, rule.source_ref, rule.docker_tag) == (
        source,
        "tag",
        "/^v([0-9.]+)$/",
        "release-{\\1}",
    )
    assert (rule.dockerfile, rule.context, rule.autobuild) == (
        "docker/Dockerfile.prod",
        "/app",
        True,
    )
    assert rule.build_args == {"VERSION": "1.2", "GREETING": "hello = world"}
    page = text(response)
    assert "Rule Tag /^v([0-9.]+)$/ → release-{\\1} added." in page
    assert "<code>release-{\\1}</code>" in page


def test_an_admin_edits_a_rule_with_its_build_arguments_as_lines(rule, alice_client):
    rule.build_args = {"A": "1", "B": "x=y"}
    rule.save()
    url = f"{BUILDS}rules/{rule.pk}/"
    form = alice_client.get(url).content.decode()
    assert "Edit build rule" in form
    assert "A=1\nB=x=y</textarea>" in form
    response = alice_client.post(url, {**GOOD, "docker_tag": "edge", "build_args": "A=2"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.docker_tag == "edge" and rule.build_args == {"A": "2"}
    assert rule.autobuild is True
    alice_client.post(url, {**GOOD, "autobuild": ""})
    rule.refresh_from_db()
    assert rule.autobuild is False


def test_an_admin_deletes_a_rule_and_its_builds_stay(rule, app, alice_client):
    build = BuildFactory(repository=app, rule=rule)
    response = alice_client.post(f"{BUILDS}rules/{rule.pk}/delete/", follow=True)
    assert "Rule Branch main → latest deleted; its builds stay in the history." in text(response)
    assert not BuildRule.objects.exists()
    build.refresh_from_db()
    assert build.rule is None
    assert f"#{build.pk}</strong>" in text(response)


def test_no_rules_before_a_source(app, alice_client):
    response = alice_client.get(NEW, follow=True)
    assert response.redirect_chain == [(BUILDS, 302)]
    assert "Connect a GitHub repository before adding build rules." in text(response)
    alice_client.post(NEW, GOOD)
    assert not BuildRule.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("source_ref", "/^v([0-9.]+$/", "is not a valid regular expression"),
        ("source_ref", "my branch", "is not a branch or tag name git accepts"),
        (
            "dockerfile",
            "../Dockerfile",
            "'../Dockerfile' leaves the repository: use a path inside it",
        ),
        ("context", "app/../../etc", "leaves the repository"),
        ("dockerfile", "docker\\Dockerfile", "Use a path with / between folders"),
        ("docker_tag", "{branch}", "uses a placeholder Dockyard does not know: use {sourceref}"),
        ("docker_tag", "-latest", "cannot make a valid tag. Use up to 128 letters"),
        ("docker_tag", "{\\1}", "{\\1} is a regex group, and main is a name: use {sourceref}"),
        ("build_args", "VERSION", "Line 1 is not NAME=value"),
        ("build_args", "OK=1\n1BAD=2", "Line 2: '1BAD' is not a build argument name"),
        ("build_args", "A=1\nA=2", "Line 2: A is given twice."),
        ("build_args", "\n".join(f"A{n}=1" for n in range(51)), "Use at most 50 build arg"),
    ],
)
def test_the_form_refuses_with_what_is_allowed(source, alice_client, field, value, message):
    response = alice_client.post(NEW, {**GOOD, field: value})
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not BuildRule.objects.exists()


def test_a_docker_tag_may_not_use_a_group_the_pattern_has_not(source, alice_client):
    data = {**GOOD, "source_type": "tag", "source_ref": "/^v([0-9]+)$/", "docker_tag": "{\\2}"}
    response = alice_client.post(NEW, data)
    assert response.status_code == 400
    assert "{\\2} refers to group 2, but /^v([0-9]+)$/ has 1 group" in text(response)
    data["docker_tag"] = "{sourceref}-{\\1}"
    assert alice_client.post(NEW, data).status_code == 302
    assert BuildRule.objects.get().docker_tag == "{sourceref}-{\\1}"


def test_a_name_too_long_for_a_tag_is_refused(source, alice_client):
    data = {**GOOD, "source_ref": "b" * 130, "docker_tag": "{sourceref}"}
    response = alice_client.post(NEW, data)
    assert response.status_code == 400
    assert "{sourceref} does not make a valid tag from" in text(response)


def test_only_admins_manage_rules(rule, bob_client, charlie_client):
    urls = {
        "get": [NEW, f"{BUILDS}rules/{rule.pk}/"],
        "post": [NEW, f"{BUILDS}rules/{rule.pk}/", f"{BUILDS}rules/{rule.pk}/delete/"],
    }
    for writer in (False, True):
        if writer:
            make_writer()
        for method, paths in urls.items():
            for path in paths:
                call = getattr(bob_client, method)
                assert call(path, GOOD).status_code == 403, path
                assert getattr(charlie_client, method)(path, GOOD).status_code == 404, path
                anonymous = getattr(Client(), method)(path, GOOD)
                assert anonymous.status_code == 302, path
                assert anonymous["Location"].startswith("/accounts/login/")
    assert list(BuildRule.objects.values_list("docker_tag", flat=True)) == ["latest"]


def test_a_rule_of_another_repository_is_not_found(rule, alice, alice_client):
    from repos.models import Repository

    Repository.objects.create(namespace=rule.source.repository.namespace, name="other")
    assert alice_client.get(f"/r/acme/other/builds/rules/{rule.pk}/").status_code == 404
    assert alice_client.post(f"/r/acme/other/builds/rules/{rule.pk}/delete/").status_code == 404
    assert BuildRule.objects.exists()
