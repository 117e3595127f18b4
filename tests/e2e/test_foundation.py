"""The foundation in a browser: log in, dashboard, navigation, audit trail, e-signature dialog.

Acceptance: "Browser test (Playwright, Chromium headless): log in, open the audit trail, sign a
record through the dialog, see the manifestation on the page."
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import TABLET_PORTRAIT, login, screenshot
from vein2vein.core import services
from vein2vein.core.audit import verify_chain
from vein2vein.core.models import AuditEvent, Signature
from vein2vein.web.navigation import AREAS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

# "2026-11-25 10:52:13 CET (UTC+01:00, Europe/Madrid)"
LOCAL_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (CET|CEST) \(UTC\+0[12]:00, Europe/Madrid\)"
)


def _expect_local_time(text: str) -> None:
    """`text` holds the site's local time (Europe/Madrid), within two minutes of now."""
    found = LOCAL_TIME.search(text)
    assert found, f"no Europe/Madrid local time in {text!r}"
    shown = dt.datetime.fromisoformat(found.group(1)).replace(tzinfo=ZoneInfo("Europe/Madrid"))
    assert abs(shown - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=2)


@pytest.fixture
def world(site, admin_user, qa_reviewer):  # type: ignore[no-untyped-def]
    """An audit trail made through the services: an admin creates a site and corrects another."""
    services.create_site(
        actor=admin_user,
        code="QC-BCN",
        name="Barcelona QC lab",
        kind="qc_lab",
        time_zone="Europe/Madrid",
    )
    services.update_site(
        actor=admin_user,
        site_id=site.pk,
        reason="Name as on the licence",
        name="Madrid Cell Therapy Unit",
    )
    site.refresh_from_db()
    return site


def test_log_in_see_audit_trail_sign_and_see_manifestation(page, world, qa_reviewer):
    site = world
    login(page, "qa1")

    # The dashboard: who I am, my role, my site, and the site's local time.
    who = page.get_by_test_id("who")
    assert "Rita Reviewer" in who.inner_text()
    assert "QA reviewer" in who.inner_text()
    lead = page.locator("p.lead").inner_text()
    assert "Madrid Cell Therapy Unit" in lead and "MFG-TEST" in lead and "QA reviewer" in lead
    _expect_local_time(page.get_by_test_id("dashboard-time").inner_text())
    _expect_local_time(page.get_by_test_id("site-time").inner_text())

    # Navigation lists every area; the ones not built yet say so.
    nav = page.get_by_role("navigation", name="Areas")
    links = nav.get_by_role("link")
    assert links.count() == len(AREAS)
    for area in AREAS:
        link = nav.get_by_role("link", name=re.compile(f"^{re.escape(area.title)}"))
        text = link.inner_text()
        assert ("not built yet" in text) is (not area.built), (area.title, text)
    screenshot(page, "01-dashboard-1280x800")

    # The audit trail: the admin's work, old -> new, with the reason.
    nav.get_by_role("link", name="Audit trail").click()
    page.wait_for_url(re.compile(r"/audit/$"))
    events = page.get_by_test_id("audit-events")
    created = events.locator("tr", has_text="site.created")
    assert created.count() == 1
    assert "QC-BCN" in created.inner_text() and "admin1" in created.inner_text()
    updated = events.locator("tr", has_text="site.updated")
    assert "Site MFG-TEST" in updated.locator(".old").inner_text()
    assert "Madrid Cell Therapy Unit" in updated.locator(".new").inner_text()
    assert "Name as on the licence" in updated.inner_text()
    screenshot(page, "02-audit-trail-1280x800")

    # Sign the site record through the dialog.
    page.goto(f"/sites/{site.pk}/")
    panel = page.get_by_test_id("signatures")
    assert "Not signed yet" in panel.inner_text()
    page.get_by_role("button", name="Sign…").click()
    dialog = page.get_by_test_id("sign-dialog")
    dialog.wait_for(state="visible")
    assert dialog.evaluate("d => d.open")
    assert "MFG-TEST" in dialog.get_by_role("heading").inner_text()
    dialog.get_by_label("Meaning").select_option(label="Reviewed")
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_label("Comment (optional)").fill("Site master data reviewed")
    screenshot(page, "03-sign-dialog-1280x800")
    dialog.get_by_test_id("sign-submit").click()

    manifestation = page.get_by_test_id("manifestation")
    manifestation.wait_for(state="visible")
    assert page.get_by_test_id("sign-dialog").count() == 0, "the dialog closes after signing"
    text = manifestation.inner_text()
    assert "Rita Reviewer" in text and "(qa1)" in text
    assert "Reviewed" in text
    assert "Site master data reviewed" in text
    _expect_local_time(text)
    assert "No longer valid" not in text
    screenshot(page, "04-signed-1280x800")

    sig = Signature.objects.get()
    assert (sig.signer_id, sig.meaning, sig.record_id) == (qa_reviewer.pk, "reviewed", str(site.pk))
    assert AuditEvent.objects.filter(action="signature.reviewed", actor=qa_reviewer).exists()
    assert verify_chain().ok

    # Reloaded, the page still shows the manifestation (it is stored, not a client artefact).
    page.reload()
    assert "Rita Reviewer" in page.get_by_test_id("manifestation").inner_text()


def test_wrong_password_is_shown_in_the_dialog_and_signs_nothing(
    page, reviewable_site, qa_reviewer
):
    site = reviewable_site
    login(page, "qa1")
    page.goto(f"/sites/{site.pk}/")
    page.get_by_role("button", name="Sign…").click()
    dialog = page.get_by_test_id("sign-dialog")
    dialog.get_by_label("Meaning").select_option(label="Reviewed")
    dialog.get_by_label("Password").fill("not-my-password")
    dialog.get_by_test_id("sign-submit").click()

    error = page.get_by_test_id("sign-dialog").locator(".errorlist, .flash.error")
    error.first.wait_for(state="visible")
    assert "password is incorrect" in error.first.inner_text()
    dialog = page.get_by_test_id("sign-dialog")
    assert dialog.count() == 1 and dialog.evaluate("d => d.open"), "the error stays in the dialog"
    assert dialog.is_visible()
    assert "Not signed yet" in page.get_by_test_id("signatures").inner_text()
    assert Signature.objects.count() == 0
    assert not AuditEvent.objects.filter(action__startswith="signature.").exists()
    screenshot(page, "05-sign-wrong-password-1280x800")

    # The same dialog then accepts the right password.
    dialog.get_by_label("Meaning").select_option(label="Reviewed")
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_test_id("sign-submit").click()
    page.get_by_test_id("manifestation").wait_for(state="visible")
    assert page.get_by_test_id("sign-dialog").count() == 0
    assert Signature.objects.count() == 1


def test_cancel_closes_the_dialog_without_signing(page, site, qa_reviewer):
    login(page, "qa1")
    page.goto(f"/sites/{site.pk}/")
    page.get_by_role("button", name="Sign…").click()
    dialog = page.get_by_test_id("sign-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    assert page.get_by_test_id("sign-dialog").count() == 0
    # and it opens again
    page.get_by_role("button", name="Sign…").click()
    page.get_by_test_id("sign-dialog").wait_for(state="visible")
    assert Signature.objects.count() == 0


@pytest.mark.parametrize("path", ["/", "/audit/", "/sites/"])
def test_anonymous_is_sent_to_login(page, db, path):
    page.goto(path)
    page.wait_for_url(re.compile(r"/accounts/login/\?next="))
    assert page.get_by_role("heading", name="Log in to vein2vein").is_visible()
    assert page.get_by_role("navigation", name="Areas").count() == 0


def test_portrait_tablet_shows_the_navigation(new_page, world):
    page = new_page(TABLET_PORTRAIT)
    login(page, "qa1")
    nav = page.get_by_role("navigation", name="Areas")
    assert nav.is_visible()
    links = nav.get_by_role("link")
    assert links.count() == len(AREAS)
    width = page.viewport_size["width"]
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box is not None and box["width"] > 0 and box["x"] + box["width"] <= width + 1
    # Nothing wider than the screen: no sideways scrolling on a tablet.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, "06-dashboard-800x1280")
    page.goto("/audit/")
    assert page.get_by_test_id("audit-events").locator("tbody tr").count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, "07-audit-800x1280")
