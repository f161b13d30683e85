"""A build's page in Chromium against the real portal: the log of a running build grows on the
page without a reload, the end of the build shows when it comes, and Cancel stops a queued one.

The builds are rows this test writes, as the worker would (it runs none of them: they were
never sent to it)."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Namespace
from builds.models import Build
from repos.models import Repository
from tests.e2e.conftest import Portal
from tests.e2e.test_github import sign_in
from tests.factories import BuildFactory, BuildRuleFactory, BuildSourceFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DIGEST = "sha256:" + "5e" * 32


@pytest.fixture
def app(db) -> Repository:
    """alice's private alice/app, built from GitHub's alice/app by one rule."""
    alice = UserFactory(username="alice")
    repository = Repository.objects.create(
        namespace=Namespace.objects.get(name="alice"), name="app", is_private=True
    )
    source = BuildSourceFactory(repository=repository, connected_by=alice)
    BuildRuleFactory(source=source)
    return repository


def test_the_log_of_a_running_build_streams_in_and_its_end_shows(
    portal: Portal, page: Page, app: Repository
):
    build = BuildFactory(
        repository=app,
        rule=app.build_source.rules.get(),
        status=Build.Status.RUNNING,
        started=timezone.now(),
        log="STEP 1/2: FROM busybox\n",
    )
    sign_in(page, portal, "alice")
    page.goto(f"{portal.url}/r/alice/app/builds/")
    history = page.locator("#history")
    expect(history.locator("[data-build-status]")).to_have_text("Running")
    history.get_by_role("link", name=f"#{build.pk}").click()
    expect(page).to_have_url(re.compile(rf"/r/alice/app/builds/{build.pk}/$"))

    log = page.get_by_label("Build log")
    expect(log).to_have_text("STEP 1/2: FROM busybox\n")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    build.append_log("STEP 2/2: RUN echo 'this is my new container'\n")
    expect(log).to_contain_text("STEP 2/2: RUN echo 'this is my new container'")
    build.append_log("this is my new container\nCOMMIT alice/app:latest\n")
    expect(log).to_have_text(
        "STEP 1/2: FROM busybox\n"
        "STEP 2/2: RUN echo 'this is my new container'\n"
        "this is my new container\nCOMMIT alice/app:latest\n"
    )

    Build.objects.filter(pk=build.pk).update(
        status=Build.Status.SUCCESS, finished=timezone.now(), digest=DIGEST
    )
    summary = page.locator(".build-summary")
    expect(summary.locator("[data-build-status]")).to_have_text("Success")
    expect(summary.get_by_text(DIGEST)).to_be_visible()
    expect(page.get_by_text("Live", exact=True)).to_have_count(0)
    expect(summary.get_by_role("button", name="Cancel build")).to_have_count(0)
    assert page.evaluate("window.sameDocument") is True
    # The whole log once: nothing appended twice by the last answers.
    assert log.text_content().count("COMMIT alice/app:latest") == 1


def test_a_failure_shows_its_error_line_as_it_happens(portal: Portal, page: Page, app):
    build = BuildFactory(
        repository=app, status=Build.Status.RUNNING, started=timezone.now(), log="STEP 1/2\n"
    )
    sign_in(page, portal, "alice")
    page.goto(f"{portal.url}/r/alice/app/builds/{build.pk}/")
    error = page.get_by_role("alert")
    expect(error).to_be_hidden()
    build.append_log("Error: building at STEP 2/2: exit status 1\n")
    Build.objects.filter(pk=build.pk).update(
        status=Build.Status.FAILED, finished=timezone.now(), error="STEP 2/2: exit status 1"
    )
    expect(page.locator(".build-summary [data-build-status]")).to_have_text("Failed")
    expect(error).to_have_text("STEP 2/2: exit status 1")
    expect(page.get_by_label("Build log")).to_contain_text("Error: building at STEP 2/2")


def test_cancel_stops_a_queued_build(portal: Portal, page: Page, app: Repository):
    build = BuildFactory(repository=app, rule=app.build_source.rules.get())
    sign_in(page, portal, "alice")
    page.goto(f"{portal.url}/r/alice/app/builds/{build.pk}/")
    expect(page.get_by_label("Build log")).to_have_text("")
    page.get_by_role("button", name="Cancel build").click()

    expect(page.get_by_text(f"Build #{build.pk} is cancelled.")).to_be_visible()
    expect(page.locator(".build-summary [data-build-status]")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel build")).to_have_count(0)
    build.refresh_from_db()
    assert build.status == Build.Status.CANCELLED and build.finished is not None
