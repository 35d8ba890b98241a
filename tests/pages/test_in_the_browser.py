"""The pages in a real browser (Chromium from the machine's packages, driven by Playwright): WCAG 2.1 A and AA by
axe-core at phone and desktop width, nothing fetched from another host, usable without JavaScript and with the
keyboard. `make screenshots` runs the axe tests with KOMERBIJ_SCREENSHOTS set and keeps their pictures.

Other page issues add their pages to PAGES (path, screenshot name).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser
from support.browser import RequestLog, axe_violations, new_context, screenshot
from support.frontdoor import Stack

PAGES = [("/", "start"), ("/toegankelijkheid", "toegankelijkheid")]


@pytest.mark.parametrize("width", ["phone", "desktop"])
@pytest.mark.parametrize(("path", "name"), PAGES)
def test_axe_finds_no_wcag_21_aa_violation(stack: Stack, browser: Browser, path: str, name: str, width: str) -> None:
    context = new_context(browser, width, bypass_csp=True)  # axe is injected as an inline script
    try:
        page = context.new_page()
        page.goto(stack.url + path, wait_until="networkidle")
        assert page.locator("html").get_attribute("lang") == "nl"
        violations = axe_violations(page)
        assert violations == [], violations
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than the screen: people would scroll sideways"
        screenshot(page, name, width)
    finally:
        context.close()


@pytest.mark.parametrize(("path", "name"), PAGES)
def test_no_request_leaves_this_machine(stack: Stack, browser: Browser, path: str, name: str) -> None:
    context = new_context(browser)
    log = RequestLog()
    try:
        page = context.new_page()
        log.attach(page)
        page.goto(stack.url + path, wait_until="networkidle")
        loaded = page.evaluate(
            "document.fonts.ready.then(() => [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family))"
        )
        assert {"Source Sans 3 Variable", "Nunito Variable"} <= {f.strip('"') for f in loaded}, loaded  # our fonts
        assert len(log.urls) > 3  # the page, its two stylesheets, images (and the fonts, unless cached)
        assert log.outside() == []
    finally:
        context.close()


def test_the_start_page_works_without_javascript(stack: Stack, browser: Browser) -> None:
    context = new_context(browser, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(stack.url + "/")
        assert page.get_by_role("heading", level=1).inner_text().startswith("Kom erbij")
        page.get_by_role("link", name="Toegankelijkheid").click()
        page.wait_for_url(f"{stack.url}/toegankelijkheid")
        assert page.get_by_role("heading", level=1).inner_text().replace("\u00ad", "") == "Toegankelijkheidsverklaring"
        page.get_by_role("link", name="Week tegen Eenzaamheid Kom erbij").click()  # the logo leads home
        page.wait_for_url(f"{stack.url}/")
    finally:
        context.close()


def test_the_skip_link_is_the_first_stop_for_the_keyboard_and_jumps_to_the_content(
    stack: Stack, browser: Browser
) -> None:
    context = new_context(browser, "phone")
    try:
        page = context.new_page()
        page.goto(stack.url + "/")
        skip = page.get_by_role("link", name="Direct naar de inhoud")
        assert not skip.is_visible() or skip.bounding_box()["y"] < 0  # out of sight until it gets focus  # type: ignore[index]
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Direct naar de inhoud"
        box = skip.bounding_box()
        assert box is not None and box["y"] >= 0 and box["height"] >= 24, "focused, the skip link is on screen"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "inhoud"
        page.keyboard.press("Tab")  # the next stop is inside the main content, past the header and its menu
        assert page.evaluate("document.querySelector('main').contains(document.activeElement)")
    finally:
        context.close()
