"""The pages of a repository: overview with README, tags, a tag's layers, stars, the library
shortcut, creating a repository, the dashboard filter and the starred list on profiles.

alice owns `acme` (an organization) and her own repositories; bob is in acme's `readers` team,
which may read the private `acme/app`; charlie is outside everything."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Namespace
from orgs.models import Organization, Team, TeamMembership, TeamPermission
from repos.models import Activity, Manifest, Repository, RepositoryRedirect, Star, Tag
from tests.conftest import signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE = "application/vnd.oci.image.manifest.v1+json"
LAYERS = [
    {
        "digest": "sha256:" + "a" * 64,
        "size": 3_000_000,
        "media_type": "application/vnd.oci.image.layer.v1.tar+gzip",
        "instruction": "/bin/sh -c #(nop) ADD file:abc in / ",
    },
    {
        "digest": "sha256:" + "b" * 64,
        "size": 2048,
        "media_type": "application/vnd.oci.image.layer.v1.tar+gzip",
        "instruction": "/bin/sh -c apk add --no-cache curl",
    },
]


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def image(repository: Repository, n: int, arch: str = "amd64", layers=None) -> Manifest:
    return Manifest.objects.create(
        repository=repository,
        digest=digest(n),
        media_type=IMAGE,
        size=sum(layer["size"] for layer in layers or LAYERS) + 500,
        platforms=[
            {"os": "linux", "architecture": arch, "variant": "", "digest": digest(n), "size": 1}
        ],
        layers=LAYERS if layers is None else layers,
    )


def tag(repository: Repository, name: str, manifest: Manifest, age_minutes: int = 0, by=None):
    return Tag.objects.create(
        repository=repository,
        name=name,
        manifest=manifest,
        pushed_at=timezone.now() - timedelta(minutes=age_minutes),
        pushed_by=by,
    )


def text(response) -> str:
    return " ".join(response.content.decode().split())


@pytest.fixture
def acme(alice, bob) -> Organization:
    organization = Organization.create("acme", alice)
    readers = Team.objects.create(organization=organization, name="readers")
    TeamMembership.objects.create(team=readers, user=bob)
    app = Repository.objects.create(
        namespace=organization.namespace, name="app", is_private=True, description="The app"
    )
    TeamPermission.objects.create(team=readers, repository=app, level="read")
    tag(app, "1.0", image(app, 1), by=alice)
    return organization


@pytest.fixture
def web(alice) -> Repository:
    """alice's public repository."""
    return Repository.objects.create(
        namespace=Namespace.objects.get(name="alice"),
        name="web",
        description="A web server",
        full_description="# Web\n\nRun it with `docker run`.",
        pull_count=1234,
    )


@pytest.fixture
def staff(db):
    return UserFactory(username="root-admin", is_staff=True)


PRIVATE_PAGES = [
    "/r/acme/app/",
    "/r/acme/app/tags/",
    "/r/acme/app/tags/1.0/",
    "/r/acme/app/tags/?name=1&ordering=name&page=2",
]


@pytest.mark.parametrize("url", PRIVATE_PAGES)
def test_private_pages_answer_404_to_those_who_may_not_see_them(
    url, acme, alice_client, bob_client, charlie_client, staff
):
    assert alice_client.get(url).status_code == 200
    assert bob_client.get(url).status_code == 200
    assert signed_in(staff).get(url).status_code == 200
    assert charlie_client.get(url).status_code == 404
    assert Client().get(url).status_code == 404


@pytest.mark.parametrize("url", ["/r/alice/web/", "/r/alice/web/tags/"])
def test_public_pages_are_open_to_everyone(url, web, alice_client, bob_client, charlie_client):
    for client in (alice_client, bob_client, charlie_client, Client()):
        assert client.get(url).status_code == 200


def test_missing_things_answer_404(acme, alice_client):
    assert alice_client.get("/r/acme/nothing/").status_code == 404
    assert alice_client.get("/r/acme/app/tags/2.0/").status_code == 404
    assert alice_client.get("/r/nobody/app/tags/").status_code == 404


def test_a_repository_being_deleted_is_gone(acme, alice_client):
    Repository.objects.update(state=Repository.State.DELETING)
    assert alice_client.get("/r/acme/app/").status_code == 404


def test_overview_shows_what_docker_hub_shows(acme, web, alice, bob, settings):
    Star.objects.create(repository=web, user=bob)
    tag(web, "latest", image(web, 7), age_minutes=5)
    body = text(Client().get("/r/alice/web/"))
    assert "alice/web" in body and "A web server" in body
    assert '<h1 id="web">Web</h1>' in body or "<h1>Web</h1>" in body
    assert "<code>docker run</code>" in body
    command = f"docker pull {settings.REGISTRY_HOST}/alice/web"
    assert f'data-copy="{command}"' in body
    assert "1,234" in body  # pulls
    assert "<span data-star-count>1</span>" in body
    assert "5 minutes ago" in body
    assert '<a href="/r/alice/web/tags/1.0/">' not in body
    assert '<a href="/r/alice/web/tags/latest/"><code>latest</code></a>' in body


def test_settings_tab_only_for_admins(acme, alice_client, bob_client):
    assert "/r/acme/app/settings/" in alice_client.get("/r/acme/app/").content.decode()
    assert "/r/acme/app/settings/" not in bob_client.get("/r/acme/app/").content.decode()
    TeamPermission.objects.update(level="admin")
    assert "/r/acme/app/settings/" in bob_client.get("/r/acme/app/tags/").content.decode()


def test_readme_is_sanitized(web):
    web.full_description = (
        "Hello <script>alert('x')</script>\n\n"
        "[click](javascript:alert(1)) <a href='JaVaScRiPt:alert(2)'>two</a>\n\n"
        '<img src="https://example.com/a.png" onerror="alert(3)">\n\n'
        '<p style="color:red" onclick="alert(4)">styled</p>\n\n'
        "[site](https://example.com/docs)\n\n<iframe src='https://evil.example'></iframe>"
    )
    web.save()
    page = Client().get("/r/alice/web/").content.decode()
    readme = page[page.index('<div class="markdown">') :]
    readme = readme[: readme.index("</section>")]
    for bad in ("<script", "alert(", "javascript:", "JaVaScRiPt", "onerror", "onclick"):
        assert bad not in readme
    for bad in ("style=", "<iframe"):
        assert bad not in readme
    assert '<img src="https://example.com/a.png">' in readme
    assert '<a href="https://example.com/docs" rel="nofollow noopener">site</a>' in readme
    assert "Hello" in readme and "styled" in readme


def test_old_names_redirect_to_the_current_page(acme, alice_client, bob_client, charlie_client):
    app = Repository.objects.get(name="app")
    RepositoryRedirect.objects.create(full_name="acme/old-app", repository=app)
    response = bob_client.get("/r/acme/old-app/tags/?ordering=name")
    assert response.status_code == 301
    assert response["Location"] == "/r/acme/app/tags/?ordering=name"
    assert bob_client.get("/r/acme/old-app/").headers["Location"] == "/r/acme/app/"
    assert alice_client.get("/r/acme/old-app/tags/1.0/")["Location"] == "/r/acme/app/tags/1.0/"
    # Nothing leaks to those who may not see where it went.
    assert charlie_client.get("/r/acme/old-app/").status_code == 404
    assert Client().get("/r/acme/old-app/").status_code == 404


def test_library_images_show_at_the_underscore_url(staff):
    library = Namespace.objects.create(name="library", kind=Namespace.Kind.ORG)
    busybox = Repository.objects.create(namespace=library, name="busybox", description="Tiny")
    tag(busybox, "latest", image(busybox, 3))
    response = Client().get("/_/busybox/")
    assert response.status_code == 200
    body = text(response)
    assert "library/busybox" in body and "Official image" in body and "Tiny" in body
    assert Client().get("/_/nothing/").status_code == 404
    busybox.is_private = True
    busybox.save()
    assert Client().get("/_/busybox/").status_code == 404
    assert signed_in(staff).get("/_/busybox/").status_code == 200


# Tags tab


@pytest.fixture
def many(alice) -> Repository:
    """alice/many with tags t00…t29, t00 pushed last."""
    repository = Repository.objects.create(
        namespace=Namespace.objects.get(name="alice"), name="many"
    )
    manifest = image(repository, 9)
    for n in range(30):
        tag(repository, f"t{n:02}", manifest, age_minutes=n, by=alice)
    return repository


def tag_names(response) -> list[str]:
    return [t.name for t in response.context["page"].object_list]


def test_tags_are_paginated_newest_first(many):
    first = Client().get("/r/alice/many/tags/")
    assert tag_names(first) == [f"t{n:02}" for n in range(25)]
    body = text(first)
    assert "Page 1 of 2" in body and "30 tags" in body
    assert 'href="?page=2" rel="next"' in body
    assert tag_names(Client().get("/r/alice/many/tags/?page=2")) == [
        f"t{n:02}" for n in range(25, 30)
    ]
    # A page past the end shows the last one.
    assert tag_names(Client().get("/r/alice/many/tags/?page=99"))[-1] == "t29"


def test_tags_sort_by_name_and_by_last_pushed(many):
    oldest = Client().get("/r/alice/many/tags/?ordering=last_pushed")
    assert tag_names(oldest)[:2] == ["t29", "t28"]
    by_name = tag_names(Client().get("/r/alice/many/tags/?ordering=-name"))
    assert by_name[:2] == ["t29", "t28"]
    Tag.objects.filter(name="t05").update(name="a-first")
    assert tag_names(Client().get("/r/alice/many/tags/?ordering=name"))[0] == "a-first"
    # Unknown orderings fall back to newest first; the page link keeps the ordering.
    assert tag_names(Client().get("/r/alice/many/tags/?ordering=size"))[0] == "t00"
    body = Client().get("/r/alice/many/tags/?ordering=name").content.decode()
    assert 'href="?ordering=name&amp;page=2"' in body
    assert 'href="?ordering=-name" data-sort="name"' in body


def test_tags_filter_by_name(many):
    response = Client().get("/r/alice/many/tags/?name=T1")
    assert tag_names(response) == [f"t1{n}" for n in range(10)]
    nothing = Client().get("/r/alice/many/tags/?name=zzz")
    assert "No tag matches “zzz”" in text(nothing)


def test_each_tag_row_has_digest_size_platforms_and_pusher(acme, alice_client, settings):
    app = Repository.objects.get(name="app")
    child_arm = image(app, 21, arch="arm64")
    index = Manifest.objects.create(
        repository=app,
        digest=digest(20),
        media_type=INDEX,
        size=12_000_000,
        platforms=[
            {"os": "linux", "architecture": "amd64", "variant": "", "digest": digest(1), "size": 5},
            {
                "os": "linux",
                "architecture": "arm64",
                "variant": "v8",
                "digest": child_arm.digest,
                "size": 5,
            },
        ],
    )
    tag(app, "multi", index)
    body = text(alice_client.get("/r/acme/app/tags/"))
    assert f'<code title="{digest(20)}">{digest(20)[7:19]}</code>' in body
    assert "11.4 MB" in body  # filesizeformat; text() turns its no-break space into a space
    assert (
        '<span class="platform">linux/amd64</span><span class="platform">linux/arm64/v8</span>'
        in body
    )
    assert 'by <a href="/u/alice/">alice</a>' in body
    assert f'data-copy="docker pull {settings.REGISTRY_HOST}/acme/app:multi"' in body


# Tag page


def test_tag_page_lists_layers_with_sizes_and_instructions(acme, bob_client):
    body = text(bob_client.get("/r/acme/app/tags/1.0/"))
    assert digest(1) in body
    assert "ADD file:abc in /" in body and "#(nop)" not in body
    assert "RUN apk add --no-cache curl" in body
    assert "2.9 MB" in body and "2.0 KB" in body
    assert "2 layers" in body


def test_tag_page_of_an_index_picks_a_platform(acme, alice_client):
    app = Repository.objects.get(name="app")
    arm_layers = [{**LAYERS[1], "instruction": "/bin/sh -c echo arm"}]
    arm = image(app, 31, arch="arm64", layers=arm_layers)
    index = Manifest.objects.create(
        repository=app,
        digest=digest(30),
        media_type=INDEX,
        size=10,
        platforms=[
            {"os": "linux", "architecture": "amd64", "variant": "", "digest": digest(1), "size": 5},
            {
                "os": "linux",
                "architecture": "arm64",
                "variant": "",
                "digest": arm.digest,
                "size": 5,
            },
            {
                "os": "linux",
                "architecture": "s390x",
                "variant": "",
                "digest": digest(99),
                "size": 5,
            },
        ],
    )
    tag(app, "multi", index)
    default = text(alice_client.get("/r/acme/app/tags/multi/"))
    assert "ADD file:abc in /" in default and "echo arm" not in default
    assert '<option value="linux/arm64">linux/arm64</option>' in default
    chosen = text(alice_client.get("/r/acme/app/tags/multi/?platform=linux/arm64"))
    assert "RUN echo arm" in chosen and "ADD file:abc" not in chosen
    assert '<option value="linux/arm64" selected>' in chosen
    # A platform whose image the portal never saw: no layers, no error.
    unknown = text(alice_client.get("/r/acme/app/tags/multi/?platform=linux/s390x"))
    assert "No layer details are known for this platform" in unknown
    # An unknown platform falls back to the first one.
    assert "ADD file:abc" in text(alice_client.get("/r/acme/app/tags/multi/?platform=plan9/x"))


# Query counts


def queries_for(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize("url", ["/r/acme/app/", "/r/acme/app/tags/", "/r/acme/app/tags/1.0/"])
def test_query_counts_do_not_grow_with_the_number_of_tags(
    url, acme, bob_client, alice, django_assert_max_num_queries
):
    app = Repository.objects.get(name="app")
    for n in range(2, 4):
        tag(app, f"v{n}", image(app, 100 + n), by=alice)
    with_three = queries_for(bob_client, url)
    for n in range(4, 61):
        tag(app, f"v{n}", image(app, 100 + n), by=alice if n % 2 else None)
    assert Tag.objects.filter(repository=app).count() == 60
    with django_assert_max_num_queries(with_three):
        assert bob_client.get(url).status_code == 200


# Stars


def test_star_and_unstar(web, bob_client):
    response = bob_client.post("/r/alice/web/star/")
    assert response.status_code == 302 and response["Location"] == "/r/alice/web/"
    assert Star.objects.filter(repository=web, user__username="bob").count() == 1
    body = text(bob_client.get("/r/alice/web/"))
    assert 'aria-pressed="true"' in body and "Starred" in body
    assert "<span data-star-count>1</span>" in body
    bob_client.post("/r/alice/web/star/", {"next": "/r/alice/web/tags/"})
    assert not Star.objects.exists()
    assert 'aria-pressed="false"' in text(bob_client.get("/r/alice/web/"))


def test_star_needs_sign_in_post_and_a_visible_repository(acme, web, charlie_client, bob_client):
    anonymous = Client().post("/r/alice/web/star/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert charlie_client.get("/r/alice/web/star/").status_code == 405
    assert charlie_client.post("/r/acme/app/star/").status_code == 404
    assert bob_client.post("/r/acme/app/star/").status_code == 302
    # An outside address in `next` is ignored.
    away = charlie_client.post("/r/alice/web/star/", {"next": "https://evil.example/"})
    assert away["Location"] == "/r/alice/web/"
    assert Star.objects.count() == 2


def test_starred_list_on_profile_shows_only_what_the_viewer_may_see(
    acme, web, bob, bob_client, charlie_client
):
    app = Repository.objects.get(name="app")
    Star.objects.create(repository=web, user=bob)
    Star.objects.create(repository=app, user=bob)
    mine = text(bob_client.get("/u/bob/"))
    assert "acme/app" in mine and "alice/web" in mine
    theirs = text(charlie_client.get("/u/bob/"))
    assert "alice/web" in theirs and "acme/app" not in theirs
    assert "acme/app" not in text(Client().get("/u/bob/"))
    assert "has not starred a repository you can see" in text(Client().get("/u/alice/"))


def test_repository_table_links_and_counts_stars(acme, web, alice_client, bob, charlie):
    Star.objects.create(repository=web, user=bob)
    Star.objects.create(repository=web, user=charlie)
    tag(web, "a", image(web, 50))
    tag(web, "b", image(web, 51))
    page = alice_client.get("/")
    rows = {r.full_name: (r.tag_count, r.star_count) for r in page.context["repositories"]}
    assert rows == {"alice/web": (2, 2), "acme/app": (1, 0)}
    body = page.content.decode()
    assert '<a class="repo-link" href="/r/alice/web/"><code>alice/web</code></a>' in body
    org_page = alice_client.get("/orgs/acme/")
    assert '<a class="repo-link" href="/r/acme/app/">' in org_page.content.decode()


# Dashboard


def test_dashboard_filters_by_name(acme, web, alice_client):
    names = [r.full_name for r in alice_client.get("/?q=WE").context["repositories"]]
    assert names == ["alice/web"]
    assert [r.full_name for r in alice_client.get("/?q=acme").context["repositories"]] == [
        "acme/app"
    ]
    nothing = text(alice_client.get("/?q=zzz"))
    assert "No repository matches “zzz”" in nothing and "Push an image" in nothing


# Create repository


def test_create_repository(alice_client, alice):
    page = alice_client.get("/repository/create/")
    assert page.status_code == 200
    response = alice_client.post(
        "/repository/create/",
        {"namespace": "alice", "name": "tools/cli", "description": "CLI", "is_private": "true"},
    )
    assert response.status_code == 302 and response["Location"] == "/r/alice/tools/cli/"
    repository = Repository.objects.get(name="tools/cli")
    assert repository.is_private and repository.description == "CLI"
    assert repository.created_by == alice
    assert Activity.objects.filter(action=Activity.Action.REPO_CREATED, repository=repository)
    assert alice_client.get("/r/alice/tools/cli/").status_code == 200
    assert Client().get("/r/alice/tools/cli/").status_code == 404


def test_create_repository_requires_sign_in():
    response = Client().get("/repository/create/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "This field is required."),
        ("Upper", "is not a valid repository name"),
        ("-dash", "is not a valid repository name"),
        ("a//b", "is not a valid repository name"),
        ("web", "alice/web already exists."),
        ("x" * 225, "at most 224 characters"),
    ],
)
def test_create_repository_refuses_bad_input(name, error, web, alice_client):
    response = alice_client.post(
        "/repository/create/", {"namespace": "alice", "name": name, "is_private": "false"}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert Repository.objects.count() == 1


def test_namespace_picker_offers_only_where_you_may_create(acme, alice_client, bob_client):
    assert [n.name for n in alice_client.get("/repository/create/").context["namespaces"]] == [
        "alice",
        "acme",
    ]
    assert [n.name for n in bob_client.get("/repository/create/").context["namespaces"]] == ["bob"]
    refused = bob_client.post(
        "/repository/create/", {"namespace": "acme", "name": "sneaky", "is_private": "false"}
    )
    assert "Select a valid choice" in refused.content.decode()
    Organization.objects.update(members_can_create_repositories=True)
    created = bob_client.post(
        "/repository/create/", {"namespace": "acme", "name": "tool", "is_private": "true"}
    )
    assert created["Location"] == "/r/acme/tool/"


def test_visibility_starts_at_the_namespace_default(acme, alice_client):
    Namespace.objects.filter(name="acme").update(default_private=True)
    page = alice_client.get("/repository/create/?namespace=acme")
    assert page.context["form"]["is_private"].value() == "true"
    assert 'value="acme" data-private="true" selected' in page.content.decode()
    assert alice_client.get("/repository/create/").context["form"]["is_private"].value() == "false"


def test_staff_create_library_repositories(staff):
    client = signed_in(staff)
    assert "library" in [n.name for n in client.get("/repository/create/").context["namespaces"]]
    response = client.post(
        "/repository/create/", {"namespace": "library", "name": "busybox", "is_private": "false"}
    )
    assert response["Location"] == "/r/library/busybox/"
    assert Client().get("/_/busybox/").status_code == 200
