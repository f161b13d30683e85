"""Build rules as Docker Hub writes them: which pushed ref builds which Docker tag, and what a
rule may say (its validators give the messages the rule form shows)."""

import os

import pytest
from django.core.exceptions import ValidationError

from builds.rules import (
    matching_tag,
    paths_in_checkout,
    validate_build_args,
    validate_docker_tag_template,
    validate_path_in_checkout,
    validate_source_ref,
)

BRANCH, TAG = "branch", "tag"


@pytest.mark.parametrize(
    ("rule", "pushed", "expected"),
    [
        ((BRANCH, "main", "latest"), (BRANCH, "main"), "latest"),
        ((BRANCH, "main", "latest"), (BRANCH, "develop"), None),
        ((BRANCH, "main", "latest"), (TAG, "main"), None),
        ((BRANCH, "main", "{sourceref}"), (BRANCH, "main"), "main"),
        ((TAG, "/^v([0-9.]+)$/", "{\\1}"), (TAG, "v1.2.3"), "1.2.3"),
        ((TAG, "/^v([0-9.]+)$/", "{\\1}"), (TAG, "release-1"), None),
        ((TAG, "/^v([0-9.]+)$/", "{\\1}"), (BRANCH, "v1.2.3"), None),
        ((TAG, "/^v([0-9]+)\\.([0-9]+)/", "{\\1}.{\\2}-slim"), (TAG, "v2.7.1"), "2.7-slim"),
        ((TAG, "/^v/", "{sourceref}"), (TAG, "v3"), "v3"),
        ((BRANCH, "/^feature/", "{sourceref}"), (BRANCH, "feature/login"), "feature-login"),
        # A group that matched nothing leaves a tag that cannot start with '-': no build.
        ((TAG, "/^(x)?-?v/", "{\\1}"), (TAG, "v1"), None),
    ],
)
def test_which_push_builds_which_tag(rule, pushed, expected):
    assert matching_tag(*rule, *pushed) == expected


@pytest.mark.parametrize("source", ["main", "release/2.x", "v1.2.3", "/^v([0-9.]+)$/", "/.*/"])
def test_accepted_sources(source):
    validate_source_ref(source)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/^v([0-9.]+$/", "is not a valid regular expression"),
        ("my branch", "is not a branch or tag name git accepts"),
        ("a..b", "is not a branch or tag name git accepts"),
        ("", "is not a branch or tag name git accepts"),
        ("x.lock", "is not a branch or tag name git accepts"),
    ],
)
def test_refused_sources_say_what_is_allowed(source, message):
    with pytest.raises(ValidationError, match=message):
        validate_source_ref(source)


@pytest.mark.parametrize("template", ["latest", "{sourceref}", "{\\1}", "v{\\1}-{\\2}", "1.0"])
def test_accepted_tag_templates(template):
    validate_docker_tag_template(template)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{branch}", "placeholder Dockyard does not know"),
        ("-dev", "cannot make a valid tag"),
        ("has space", "cannot make a valid tag"),
        ("x" * 129, "cannot make a valid tag"),
    ],
)
def test_refused_tag_templates(template, message):
    with pytest.raises(ValidationError, match=message):
        validate_docker_tag_template(template)


@pytest.mark.parametrize("path", ["Dockerfile", "/", "docker/app", "/src", "a/./b"])
def test_paths_inside_the_checkout(path):
    validate_path_in_checkout(path)


@pytest.mark.parametrize("path", ["../Dockerfile", "docker/../../etc", "/..", "a\\b", "a\x00"])
def test_paths_leaving_the_checkout_are_refused(path):
    with pytest.raises(ValidationError):
        validate_path_in_checkout(path)


def test_build_args_are_names_and_text():
    validate_build_args({"VERSION": "1.2", "_X": ""})
    for bad in ({"1X": "a"}, {"A-B": "a"}, {"A": 1}, ["A=1"]):
        with pytest.raises(ValidationError):
            validate_build_args(bad)


def test_paths_in_checkout_resolve_symbolic_links(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / "app").mkdir(parents=True)
    (checkout / "app" / "Dockerfile").write_text("FROM scratch\n")
    context, dockerfile = paths_in_checkout(checkout, "/app", "Dockerfile")
    assert (context, dockerfile) == (checkout / "app", checkout / "app" / "Dockerfile")
    (tmp_path / "outside").write_text("FROM scratch\n")
    os.symlink(tmp_path / "outside", checkout / "app" / "Escape")
    with pytest.raises(ValueError, match="Dockerfile location leaves"):
        paths_in_checkout(checkout, "app", "Escape")
    os.symlink(tmp_path, checkout / "up")
    with pytest.raises(ValueError, match="build context leaves"):
        paths_in_checkout(checkout, "up", "Dockerfile")
    with pytest.raises(ValueError, match="no Dockerfile"):
        paths_in_checkout(checkout, "/", "Dockerfile")
