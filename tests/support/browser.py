"""Chromium from the machine's packages, driven by Playwright: pages as people's browsers see them.

The machine's network is closed, so Chromium is started with the flags that keep it from calling home (without them
it floods refused connections). axe-core (pinned in package.json) is injected into a page to check WCAG 2.1 A and
AA; screenshots go to $KOMERBIJ_SCREENSHOTS when `make screenshots` sets it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from komerbij.devtools import debian, frontend
from support.keycloak import TIMINGS

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
WIDTHS = {"phone": {"width": 375, "height": 812}, "desktop": {"width": 1280, "height": 900}}
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@contextmanager
def chromium() -> Iterator[Browser]:
    executable = debian.require("chromium", "chromium")
    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_FLAGS, headless=True)
        TIMINGS["Chromium launch"] = TIMINGS.get("Chromium launch", 0.0) + time.monotonic() - started
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class RequestLog:
    """Every URL a page asked for (documents, styles, fonts, images, scripts): none may leave this machine."""

    urls: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("request", lambda request: self.urls.append(request.url))

    def outside(self) -> list[str]:
        return [u for u in self.urls if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                and urlsplit(u).hostname not in LOCAL_HOSTS]


def new_context(browser: Browser, width: str = "desktop", **kwargs: Any) -> BrowserContext:
    return browser.new_context(viewport=WIDTHS[width], locale="nl-NL", **kwargs)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations of the page as it is now (the context must bypass our CSP for the
    injected script)."""
    page.add_script_tag(path=str(frontend.axe_script()))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_21_AA,
    )
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]


def screenshot(page: Page, name: str, width: str) -> Path | None:
    """docs/screenshots/<name>-<width>.png when `make screenshots` asks for them."""
    folder = os.environ.get("KOMERBIJ_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder) / f"{name}-{width}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
