"""The Builds tab, a build's page, its log endpoint and the Cancel button, as each person sees
them. alice owns `acme`; bob is in acme's `crew` team, which may read the private `acme/app`
(write where a test says so); charlie is outside everything.

Builds are rows made here, never run: the worker is tested in test_builder*.py."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from builds.models import Build, BuildRule, BuildSource
from orgs.models import TeamPermission
from repos.models import Repository
from tests.factories import BuildFactory, BuildRuleFactory

pytestmark = pytest.mark.django_db

BUILDS = "/r/acme/app/builds/"


def make_writer() -> None:
    TeamPermission.objects.update(level="write")


def text(response) -> str:
    return " ".join(response.content.decode().split())


def page_urls(build: Build) -> list[str]:
    return [
        BUILDS,
        f"{BUILDS}?page=2",
        f"{BUILDS}{build.pk}/",
        f"{BUILDS}{build.pk}/log/?offset=3",
        f"{BUILDS}badge.svg",
    ]


def test_readers_see_every_page_and_outsiders_get_404(
    build, alice_client, bob_client, charlie_client
):
    for url in page_urls(build):
        assert alice_client.get(url).status_code == 200, url
        assert bob_client.get(url).status_code == 200, url
        assert charlie_client.get(url).status_code == 404, url
        assert Client().get(url).status_code == 404, url


def test_anyone_sees_the_builds_of_a_public_repository(build, charlie_client):
    Repository.objects.update(is_private=False)
    for url in page_urls(build):
        assert Client().get(url).status_code == 200, url
        assert charlie_client.get(url).status_code == 200, url


def test_a_build_of_another_repository_is_not_found(build, alice, alice_client):
    other = Repository.objects.create(namespace=build.repository.namespace, name="other")
    assert alice_client.get(f"/r/acme/other/builds/{build.pk}/").status_code == 404
    assert alice_client.get(f"/r/acme/other/builds/{build.pk}/log/").status_code == 404
    assert alice_client.post(f"/r/acme/other/builds/{build.pk}/cancel/").status_code == 404
    assert other.builds.count() == 0


def test_the_builds_tab_is_on_every_repository_page(app, bob_client):
    Repository.objects.update(is_private=False)
    for client in (bob_client, Client()):
        page = client.get("/r/acme/app/").content.decode()
        assert f'<a href="{BUILDS}">Builds</a>' in page
    page = bob_client.get(BUILDS).content.decode()
    assert f'<a href="{BUILDS}" aria-current="page">Builds</a>' in page


def test_without_a_source_admins_are_offered_to_connect_one_and_others_told_nothing(
    app, alice_client, bob_client
):
    admin = text(alice_client.get(BUILDS))
    assert "Build images from GitHub" in admin
    assert f'href="{BUILDS}source/"' in admin
    assert "Connect a GitHub repository" in admin
    reader = text(bob_client.get(BUILDS))
    assert "No automated builds" in reader
    assert "source/" not in reader and "Connect" not in reader
    assert "Build rules" not in reader and "Build history" not in reader


def test_the_source_links_to_github_and_only_admins_may_change_it(source, alice_client, bob_client):
    admin = text(alice_client.get(BUILDS))
    assert '<a href="https://github.com/octo/app" rel="noopener">octo/app</a>' in admin
    assert "Default branch</span> <code>main</code>" in admin
    assert f'href="{BUILDS}source/">Change source</a>' in admin
    assert "Build status of acme/app" in admin
    assert f"[![Build status](http://testserver{BUILDS}badge.svg)](http://testserver{BUILDS})" in (
        admin
    )
    reader = text(bob_client.get(BUILDS))
    assert "octo/app" in reader
    assert "Change source" not in reader
    assert "No builds yet" in reader


def test_the_rules_table_and_who_gets_which_buttons(
    source, rule, alice_client, bob_client, charlie
):
    BuildRuleFactory(
        source=source, source_type="tag", source_ref="/^v([0-9.]+)$/", docker_tag="{\\1}",
        autobuild=False,
    )  # fmt: skip
    trigger = f'action="{BUILDS}rules/{rule.pk}/trigger/"'
    edit = f'href="{BUILDS}rules/{rule.pk}/"'
    admin = text(alice_client.get(BUILDS))
    row = re.search(r"<tbody>.*?</tbody>", admin).group(0)
    assert "<td>Branch</td> <td><code>main</code></td> <td><code>latest</code></td>" in row
    assert "<td><code>Dockerfile</code></td> <td><code>/</code></td>" in row
    assert "<td>Tag</td> <td><code>/^v([0-9.]+)$/</code><div class" in row
    assert "<td><code>{\\1}</code></td>" in row
    assert '<span class="badge badge-success">On</span>' in row
    assert '<span class="badge">Off</span>' in row
    assert trigger in admin and edit in admin and "Add rule" in admin
    assert f'action="{BUILDS}rules/{rule.pk}/delete/"' in admin
    # The pattern cannot be built by hand, and says so.
    pattern = BuildRule.objects.get(source_type="tag").pk
    assert (
        '<button class="btn btn-secondary btn-sm" type="button" disabled title="A pattern has no '
        'single branch or tag to build by hand: it builds matching pushes only" '
        f'aria-describedby="pattern-{pattern}">Trigger</button>'
    ) in admin
    assert "A pattern: builds the tags pushed that match it" in admin

    reader = text(bob_client.get(BUILDS))
    assert "<code>/^v([0-9.]+)$/</code>" in reader
    assert "Trigger" not in reader and edit not in reader and "Add rule" not in reader

    make_writer()
    writer = text(bob_client.get(BUILDS))
    assert trigger in writer
    assert edit not in writer and "Add rule" not in writer and "/delete/" not in writer


def test_the_history_is_newest_first_paginated_and_links_each_build(app, rule, bob, alice_client):
    now = timezone.now()
    builds = [
        BuildFactory(
            repository=app,
            rule=rule,
            docker_tag=f"t{n}",
            status=Build.Status.SUCCESS,
            started=now,
            finished=now + timedelta(seconds=n),
        )
        for n in range(27)
    ]
    Build.objects.filter(pk=builds[-1].pk).update(
        trigger=Build.Trigger.MANUAL, triggered_by=bob, source_ref="feature/x"
    )
    first = text(alice_client.get(BUILDS))
    rows = re.findall(r"<tr>.*?</tr>", first.split("Build history")[1])[1:]
    assert len(rows) == 25
    newest = rows[0]
    assert f'<a href="{BUILDS}{builds[-1].pk}/"><strong>#{builds[-1].pk}</strong></a>' in newest
    assert 'data-status="success" data-build-status>Success</span>' in newest
    assert "<code>t26</code>" in newest
    assert "Branch</span> <code>feature/x</code>" in newest
    assert f'<code title="{builds[-1].commit}">{builds[-1].commit[:7]}</code>' in newest
    assert 'Manual, by <a href="/u/bob/">bob</a>' in newest
    assert "<td>26s</td>" in newest
    assert "GitHub push" in rows[1]
    assert "Page 1 of 2 · 27 builds" in first
    second = text(alice_client.get(f"{BUILDS}?page=2"))
    assert f"#{builds[1].pk}</strong>" in second and f"#{builds[0].pk}</strong>" in second
    assert f"#{builds[2].pk}</strong>" not in second


def test_the_history_stays_after_the_source_is_disconnected(build, bob_client):
    BuildSource.objects.all().delete()
    page = text(bob_client.get(BUILDS))
    assert "No automated builds" in page
    assert f"#{build.pk}</strong>" in page


def test_a_running_build_shows_its_log_and_what_it_builds(build, bob_client):
    page = text(bob_client.get(f"{BUILDS}{build.pk}/"))
    assert f"Build #{build.pk}" in page
    assert 'data-status="running" data-build-status>Running</span>' in page
    assert "Branch <code>main</code>" in page
    assert (
        '<a href="https://github.com/octo/app/commit/a1b2c3d4e50000000000000000000000000000'
        '00" rel="noopener"><code>a1b2c3d</code></a>'
    ) in page
    assert "Add the healthcheck" in page
    assert "GitHub push" in page
    assert "1m 01s" in page
    assert "STEP 1/3: FROM alpine STEP 2/3: RUN mkdir /mynewdir" in page
    log = re.search(r"<pre [^>]*data-build-log[^>]*>", page).group(0)
    assert f'data-url="{BUILDS}{build.pk}/log/"' in log
    assert f'data-offset="{len(build.log)}"' in log
    assert 'data-finished="false"' in log
    assert "js/build-log.js" in page
    # bob reads: no Cancel button.
    assert "Cancel build" not in page


def test_a_finished_build_shows_its_digest_and_stops_streaming(build, app, bob_client):
    digest = "sha256:" + "e" * 64
    Build.objects.filter(pk=build.pk).update(
        status=Build.Status.SUCCESS, finished=build.started + timedelta(seconds=90), digest=digest
    )
    page = text(bob_client.get(f"{BUILDS}{build.pk}/"))
    assert 'data-status="success" data-build-status>Success</span>' in page
    assert '<a href="/r/acme/app/tags/latest/"><code>latest</code></a>' in page
    assert f"data-build-digest>{digest}</code>" in page
    assert "1m 30s" in page
    assert 'data-finished="true"' in page
    assert "js/build-log.js" not in page and "Live" not in page


def test_a_failed_build_shows_its_error_line(build, bob_client):
    Build.objects.filter(pk=build.pk).update(
        status=Build.Status.FAILED,
        finished=timezone.now(),
        error="STEP 2/3: RUN false: exit status 1",
    )
    page = text(bob_client.get(f"{BUILDS}{build.pk}/"))
    assert "data-build-error>STEP 2/3: RUN false: exit status 1</div>" in page
    assert "Failed</span>" in page
    assert "/tags/latest/" not in page.split("Digest")[0]  # no link to a tag it did not push


def test_build_argument_values_are_for_admins_only(build, alice_client, bob_client):
    Build.objects.filter(pk=build.pk).update(build_args={"TOKEN": "hunter2", "MODE": "prod"})
    admin = text(alice_client.get(f"{BUILDS}{build.pk}/"))
    assert "<code>MODE=prod</code> <code>TOKEN=hunter2</code>" in admin
    reader = text(bob_client.get(f"{BUILDS}{build.pk}/"))
    assert "<code>MODE</code> <code>TOKEN</code>" in reader
    assert "hunter2" not in reader and "prod" not in reader
    assert "values shown to admins" in reader


def test_the_trigger_by_hand_names_who_pressed_it(build, bob, alice_client):
    Build.objects.filter(pk=build.pk).update(trigger=Build.Trigger.MANUAL, triggered_by=bob)
    page = text(alice_client.get(f"{BUILDS}{build.pk}/"))
    assert 'Trigger button, by <a href="/u/bob/">bob</a>' in page


# The log endpoint


def log(client: Client, build: Build, offset="0") -> dict:
    response = client.get(f"{BUILDS}{build.pk}/log/", {"offset": offset})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-cache"
    return response.json()


def test_the_log_endpoint_answers_from_the_offset_on(build, bob_client):
    first = log(bob_client, build)
    assert first == {
        "status": "running",
        "status_display": "Running",
        "text": build.log,
        "offset": len(build.log),
        "finished": False,
        "duration_seconds": 61,
        "digest": "",
        "error": "",
        "truncated": False,
    }
    assert log(bob_client, build, first["offset"])["text"] == ""
    assert log(bob_client, build, first["offset"])["offset"] == first["offset"]

    build.append_log("STEP 3/3: RUN touch ✓\n")
    more = log(bob_client, build, first["offset"])
    assert more["text"] == "STEP 3/3: RUN touch ✓\n"
    assert more["offset"] == len(build.log) + len("STEP 3/3: RUN touch ✓\n")
    assert (
        log(bob_client, build, 22)["text"]
        == "STEP 2/3: RUN mkdir /mynewdir\nSTEP 3/3: RUN touch ✓\n"
    )

    Build.objects.filter(pk=build.pk).update(
        status=Build.Status.SUCCESS,
        finished=build.started + timedelta(seconds=75),
        digest="sha256:" + "f" * 64,
        log_truncated=True,
    )
    done = log(bob_client, build, more["offset"])
    assert done["finished"] is True
    assert done["status"] == "success" and done["status_display"] == "Success"
    assert done["duration_seconds"] == 75
    assert done["digest"] == "sha256:" + "f" * 64
    assert done["truncated"] is True


def test_a_finished_build_is_finished_once_its_log_is_all_read(build, bob_client, monkeypatch):
    monkeypatch.setattr("builds.views.LOG_CHUNK", 10)
    Build.objects.filter(pk=build.pk).update(status=Build.Status.FAILED, error="exit 1")
    start = log(bob_client, build)
    assert start["text"] == "STEP 1/3: " and start["offset"] == 10
    assert start["finished"] is False and start["error"] == "exit 1"
    offset, text_read = 0, ""
    while True:
        answer = log(bob_client, build, offset)
        text_read += answer["text"]
        offset = answer["offset"]
        if answer["finished"]:
            break
    assert text_read == build.log and offset == len(build.log)


@pytest.mark.parametrize("offset", ["", "abc", "-5"])
def test_a_bad_offset_reads_from_the_start(build, bob_client, offset):
    assert log(bob_client, build, offset)["text"] == build.log


def test_an_offset_past_the_end_reads_nothing(build, bob_client):
    answer = log(bob_client, build, 10_000)
    assert answer["text"] == "" and answer["offset"] == len(build.log)


def test_a_queued_build_has_no_duration_yet(app, rule, bob_client):
    queued = BuildFactory(repository=app, rule=rule)
    answer = log(bob_client, queued)
    assert answer["status"] == "queued" and answer["duration_seconds"] is None
    assert answer["text"] == "" and answer["finished"] is False
    page = text(bob_client.get(f"{BUILDS}{queued.pk}/"))
    assert "not yet" in page


# Cancel


def test_a_writer_cancels_a_queued_build(app, rule, bob_client):
    make_writer()
    queued = BuildFactory(repository=app, rule=rule)
    page = text(bob_client.get(f"{BUILDS}{queued.pk}/"))
    assert f'action="{BUILDS}{queued.pk}/cancel/"' in page and "Cancel build" in page
    response = bob_client.post(f"{BUILDS}{queued.pk}/cancel/", follow=True)
    assert response.redirect_chain == [(f"{BUILDS}{queued.pk}/", 302)]
    queued.refresh_from_db()
    assert queued.status == Build.Status.CANCELLED and queued.finished is not None
    page = text(response)
    assert f"Build #{queued.pk} is cancelled." in page
    assert "Cancelled</span>" in page and "Cancel build" not in page


def test_cancelling_a_finished_build_changes_nothing(build, alice_client):
    Build.objects.filter(pk=build.pk).update(status=Build.Status.SUCCESS, finished=timezone.now())
    response = alice_client.post(f"{BUILDS}{build.pk}/cancel/", follow=True)
    assert f"Build #{build.pk} had already finished." in text(response)
    build.refresh_from_db()
    assert build.status == Build.Status.SUCCESS


def test_only_those_who_may_push_cancel(build, alice_client, bob_client, charlie_client):
    url = f"{BUILDS}{build.pk}/cancel/"
    assert bob_client.post(url).status_code == 403
    assert charlie_client.post(url).status_code == 404
    anonymous = Client().post(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert bob_client.get(url).status_code == 405
    build.refresh_from_db()
    assert build.status == Build.Status.RUNNING
    assert alice_client.post(url).status_code == 302
    build.refresh_from_db()
    assert build.status == Build.Status.CANCELLED
