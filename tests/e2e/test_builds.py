"""Automated builds end to end: a commit pushed to the GitHub double (real git over HTTP) sends
its signed webhook to the portal, the Celery worker clones the commit, builds it with the real
buildah and pushes it to the real registry, whose event makes the tag, as for any push."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from allauth.socialaccount.models import SocialAccount, SocialToken
from playwright.sync_api import Page, expect

from accounts.models import Namespace, User
from builds.models import Build, BuildRule, BuildSource
from repos.models import Activity, Repository
from tests.e2e.conftest import Portal
from tests.e2e.test_registry import BASE_IMAGE, MESSAGE, events_settled, wait_for, wait_for_tag
from tests.factories import PASSWORD
from tests.support.github_double import GitHubDouble, GitHubRepo, GitHubUser
from tests.support.images import ContainerTools

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCOPES = {"read:user", "user:email", "repo", "admin:repo_hook"}
# vfs storage copies every layer: a build takes seconds, on a busy machine a minute or more.
BUILD_TIMEOUT = 300.0


@pytest.fixture(autouse=True)
def _builds_settle(transactional_db: None, hub_cache) -> Iterator[None]:
    """No build still running, nor registry event being applied, when the database is
    emptied after the test."""
    yield
    wait_for(
        lambda: not Build.objects.filter(status=Build.Status.RUNNING).exists(),
        "the last build to end",
        timeout=BUILD_TIMEOUT,
    )
    wait_for(events_settled, "the portal to apply the registry's last events")


def dockerfile(base: str) -> str:
    return (
        f"FROM {base}\n"
        "RUN mkdir /mynewdir\n"
        "RUN touch /mynewdir/mynewfile\n"
        f"RUN echo '{MESSAGE}' > /mynewdir/mynewfile\n"
    )


@pytest.fixture
def octo(github: GitHubDouble, alice: User) -> GitHubUser:
    """alice's GitHub account, linked to her Dockyard account with the scopes builds ask for."""
    account = github.add_user("octo")
    token = github.issue_token(account, SCOPES)
    linked = SocialAccount.objects.create(
        user=alice, provider="github", uid=str(account.id), extra_data={"login": account.login}
    )
    SocialToken.objects.create(account=linked, token=token.token)
    return account


@pytest.fixture(scope="session")
def client_tools(tmp_path_factory: pytest.TempPathFactory) -> ContainerTools:
    """buildah, podman and skopeo on a storage of the test's, with busybox to build FROM."""
    tools = ContainerTools.create(tmp_path_factory.mktemp("containers"))
    tools.make_base_image(BASE_IMAGE)
    return tools


@pytest.fixture
def tools(client_tools: ContainerTools, tmp_path: Path) -> ContainerTools:
    return client_tools.with_auth_file(tmp_path / "auth.json")


@pytest.fixture
def base(portal: Portal, tools: ContainerTools, alice: User) -> str:
    """The busybox base image in alice's namespace on the hub, as FROM names it."""
    tools.login(portal.registry_host, "alice", PASSWORD)
    digest = tools.push(BASE_IMAGE, f"{portal.registry_host}/alice/busybox:latest")
    wait_for_tag("alice/busybox", "latest", digest)
    return f"{portal.registry_host}/alice/busybox:latest"


@pytest.fixture
def signed_in(page: Page, portal: Portal, alice: User) -> Page:
    page.goto(f"{portal.url}/accounts/login/")
    page.fill("input[name=login]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.form button[type=submit]").click()
    expect(page.locator(".menu-name")).to_have_text("alice")
    return page


@pytest.fixture
def connect(
    signed_in: Page, portal: Portal, github: GitHubDouble, octo: GitHubUser, alice: User
) -> Callable[..., GitHubRepo]:
    """A GitHub repository of octo's, connected on its Builds › Source page to a new
    repository of alice's of the same name."""

    def connect(name: str, private: bool = False) -> GitHubRepo:
        repo = github.add_repository("octo", name, private=private)
        Repository.objects.create(namespace=Namespace.objects.get(name="alice"), name=name)
        signed_in.goto(f"{portal.url}/r/alice/{name}/builds/source/")
        signed_in.get_by_role("button", name=f"Connect octo/{name}").click()
        expect(signed_in.get_by_role("status").or_(signed_in.locator(".messages"))).to_contain_text(
            f"now builds from octo/{name}"
        )
        assert len(repo.hooks) == 1
        return repo

    return connect


def finished_build(repository: str, **filters) -> Build:
    """The one build of alice/<repository> (matching filters), once it has finished."""
    builds = Build.objects.filter(repository__name=repository, **filters)
    build = wait_for(lambda: builds.first(), f"a build of alice/{repository}")
    return wait_for(
        lambda: Build.objects.filter(pk=build.pk).exclude(status__in=Build.UNFINISHED).first(),
        f"build {build.pk} of alice/{repository} to finish",
        timeout=BUILD_TIMEOUT,
    )


def workspace(portal: Portal, build: Build) -> Path:
    return portal.data_dir / "builds" / "work" / str(build.pk)


def builder_storage(portal: Portal, tmp_path: Path) -> ContainerTools:
    """buildah on the worker's own image storage, to see what builds left there."""
    home = portal.data_dir / "builds" / "containers"
    return ContainerTools(home=home, auth_file=home / "auth.json").with_auth_file(
        tmp_path / "builder-auth.json"
    )


def pushed_ok(deliveries) -> None:
    assert [delivery.status for delivery in deliveries] == [202], [d.body for d in deliveries]


def test_a_push_is_built_pushed_and_pulled_back(
    portal, connect, tools, base, alice, signed_in, tmp_path
):
    repo = connect("hello")
    sha = repo.commit({"Dockerfile": dockerfile(base)}, "Add the Dockerfile")
    pushed_ok(repo.push("refs/heads/main"))

    build = finished_build("hello")
    assert build.status == Build.Status.SUCCESS, build.log
    assert (build.commit, build.source_ref, build.docker_tag) == (sha, "main", "latest")
    assert build.trigger == Build.Trigger.PUSH
    assert build.error == ""
    assert build.started < build.finished
    assert f"git fetch --depth 1 --no-tags origin {sha}" in build.log
    assert "STEP 4/4: RUN echo" in build.log
    assert f"Pushed {portal.registry_host}/alice/hello:latest" in build.log

    # The registry's push event made the tag, pushed by the user who connected the source.
    tag = wait_for_tag("alice/hello", "latest", build.digest)
    assert tag.pushed_by == alice
    assert [layer["instruction"] for layer in tag.manifest.layers][-3:] == [
        "/bin/sh -c mkdir /mynewdir",
        "/bin/sh -c touch /mynewdir/mynewfile",
        f"/bin/sh -c echo '{MESSAGE}' > /mynewdir/mynewfile",
    ]
    wait_for(
        lambda: Activity.objects.filter(
            repository=tag.repository, action=Activity.Action.REPO_PUSHED, actor=alice
        ).exists(),
        "the push in the activity",
    )
    signed_in.goto(f"{portal.url}/r/alice/hello/activity/")
    pushed = signed_in.locator('.activity-item[data-action="repo.tag.push"]')
    expect(pushed).to_contain_text("alice")
    expect(pushed).to_contain_text("latest")

    reference = f"{portal.registry_host}/alice/hello:latest"
    tools.pull(reference)
    assert tools.run_image(reference, "cat", "/mynewdir/mynewfile") == f"{MESSAGE}\n"
    assert not workspace(portal, build).exists()
    storage = builder_storage(portal, tmp_path)
    assert not storage.image_exists(f"localhost/dockyard-build:{build.pk}")


def test_a_tag_builds_under_a_regex_rule_and_an_unmatched_branch_builds_nothing(
    portal, connect, base
):
    repo = connect("versions")
    BuildRule.objects.create(
        source=BuildSource.objects.get(repository__name="versions"),
        source_type=BuildRule.SourceType.TAG,
        source_ref="/^v([0-9.]+)$/",
        docker_tag="{\\1}",
    )
    sha = repo.commit({"Dockerfile": dockerfile(base)}, "Release")
    repo.tag("v1.2.3", sha)
    pushed_ok(repo.push("refs/tags/v1.2.3"))

    build = finished_build("versions")
    assert build.status == Build.Status.SUCCESS, build.log
    assert (build.source_type, build.source_ref, build.docker_tag) == ("tag", "v1.2.3", "1.2.3")
    wait_for_tag("alice/versions", "1.2.3", build.digest)

    repo.commit({"README.md": "work in progress\n"}, "WIP", branch="feature")
    deliveries = repo.push("refs/heads/feature")
    assert [delivery.status for delivery in deliveries] == [200]
    assert deliveries[0].json() == {"builds": []}
    assert Build.objects.filter(repository__name="versions").count() == 1


def test_a_failing_step_fails_the_build_and_pushes_nothing(portal, connect, base):
    repo = connect("broken")
    repo.commit(
        {"Dockerfile": f"FROM {base}\nRUN echo building\nRUN exit 3\nRUN echo never\n"},
        "Break it",
    )
    pushed_ok(repo.push("refs/heads/main"))

    build = finished_build("broken")
    assert build.status == Build.Status.FAILED
    assert build.error == "step RUN exit 3 failed: exit status 3"
    assert "STEP 3/4: RUN exit 3" in build.log
    assert "STEP 4/4" not in build.log
    assert build.log.endswith("Build failed: step RUN exit 3 failed: exit status 3\n")
    assert build.digest == ""
    assert not Repository.objects.get(name="broken").tags.exists()
    assert not workspace(portal, build).exists()


def test_a_private_github_repository_is_cloned_with_the_token(portal, connect, github, octo, base):
    repo = connect("secret-app", private=True)
    repo.commit({"Dockerfile": dockerfile(base)}, "Private code")
    pushed_ok(repo.push("refs/heads/main"))

    build = finished_build("secret-app")
    assert build.status == Build.Status.SUCCESS, build.log
    wait_for_tag("alice/secret-app", "latest", build.digest)
    fetches = github.requests_to("/octo/secret-app.git/git-upload-pack", "POST")
    assert fetches and all(call.headers.get("authorization") for call in fetches)
    # The token never shows in the log.
    assert github.tokens_of("octo")[0].token not in build.log


def test_cancelling_a_running_build_stops_it_and_cleans_up(
    portal, connect, base, signed_in, tmp_path
):
    repo = connect("slow")
    repo.commit({"Dockerfile": f"FROM {base}\nRUN sleep 60\n"}, "Take a while")
    pushed_ok(repo.push("refs/heads/main"))
    build = wait_for(
        lambda: Build.objects.filter(repository__name="slow", log__contains="RUN sleep 60").first(),
        "the build to reach RUN sleep 60",
        timeout=BUILD_TIMEOUT,
    )

    signed_in.goto(f"{portal.url}/r/alice/slow/builds/{build.pk}/")
    signed_in.get_by_role("button", name="Cancel build").click()
    expect(signed_in.locator("body")).to_contain_text(f"Build #{build.pk} is cancelled.")

    # The worker notices within a second, kills buildah and removes the workspace.
    wait_for(
        lambda: Build.objects.get(pk=build.pk).log.endswith("\nCancelled.\n"),
        "the worker to stop the build",
        timeout=30,
    )
    wait_for(lambda: not workspace(portal, build).exists(), "the workspace to be removed")
    build.refresh_from_db()
    assert build.status == Build.Status.CANCELLED
    assert build.digest == ""
    assert not Repository.objects.get(name="slow").tags.exists()
    storage = builder_storage(portal, tmp_path)
    wait_for(
        lambda: storage.buildah("containers", "--all", "--quiet").strip() == "",
        "buildah's working containers to be removed",
    )
