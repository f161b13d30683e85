"""An anonymous visitor finds an image from the header search box: types, picks a suggestion,
lands on the repository's page. Chromium drives a real portal (gunicorn)."""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Namespace
from repos.models import Repository
from tests.e2e.conftest import Portal

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_pick_a_suggestion_from_the_header_box(portal: Portal, page: Page):
    library = Namespace.objects.create(name="library", kind=Namespace.Kind.ORG)
    acme = Namespace.objects.create(name="acme", kind=Namespace.Kind.ORG)
    Repository.objects.create(
        namespace=library, name="busybox", description="Tiny utilities", pull_count=100
    )
    Repository.objects.create(namespace=acme, name="busybox-tools", pull_count=10)
    Repository.objects.create(namespace=acme, name="busybox-secret", is_private=True)

    page.goto(f"{portal.url}/explore/")
    box = page.get_by_role("searchbox", name="Search images")
    box.press_sequentially("busy", delay=50)
    options = page.get_by_role("listbox").get_by_role("option")
    expect(options).to_have_count(2)
    expect(options.first).to_contain_text("library/busybox")
    expect(options.first).to_contain_text("Tiny utilities")
    expect(page.get_by_role("listbox")).not_to_contain_text("busybox-secret")

    options.first.click()
    expect(page).to_have_url(re.compile(r"/r/library/busybox/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("busybox")

    # The keyboard too: arrows, then Enter on the pick.
    box = page.get_by_role("searchbox", name="Search images")
    box.press_sequentially("acme/busy", delay=50)
    expect(page.get_by_role("listbox").get_by_role("option")).to_have_count(1)
    box.press("ArrowDown")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/r/acme/busybox-tools/$"))
