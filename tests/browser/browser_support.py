"""What the browser tests share: the running stack, a signed-in page per person, and the checks every page
must pass (axe-core finds nothing, no console errors, one h1 and a title).

Every wait is bounded; nothing here sleeps to make an assertion true.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import httpx

try:
    from playwright.async_api import ConsoleMessage, Error, Locator, Page, expect
except ImportError as missing:  # pragma: no cover - the message is the point
    raise ImportError(
        "Playwright for Python is missing: it is in the root project's dev dependency group (uv sync). "
        "The tests drive Debian's chromium, so never run `playwright install`."
    ) from missing

from estate_runtime.auth import AuthSettings, mint_token
from tests.e2e.e2e_support import eventually as _poll

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
INSTALL_CHROMIUM = "sudo apt-get update && sudo apt-get install -y chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = REPO / "services" / "portal" / "node_modules" / "axe-core" / "axe.min.js"
INSTALL_AXE = "cd services/portal && npm ci"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

# Generous, because the machine is small and shared; they bound waits, they do not measure anything.
UI_TIMEOUT_MS = 30_000
EVENT_TIMEOUT_S = 90.0

PERSONAS = {
    "requester": ("Sam Patel", "sam.patel@cambridge.gov.uk"),
    "tda-member": ("Tom Reid", "tom.reid@cambridge.gov.uk"),
    "tda-chair": ("Alex Morgan", "alex.morgan@cambridge.gov.uk"),
    "owner": ("Ravi Patel", "ravi.patel@cambridge.gov.uk"),
    "contract-manager": ("Priya Shah", "priya.shah@cambridge.gov.uk"),
    "auditor": ("Grace Okafor", "grace.okafor@cambridge.gov.uk"),
}


SignIn = Callable[[str], Awaitable[Page]]
"""The ``sign_in`` fixture: ``await sign_in("tda-chair")`` is a page signed in as that demo person."""


async def eventually(
    probe: Callable[[], Awaitable[T | None]],
    *,
    what: str,
    timeout_s: float = EVENT_TIMEOUT_S,
    interval_s: float = 0.5,
) -> T:
    """Poll ``probe`` until it returns something other than None/False; fail naming ``what`` at the deadline
    (the end-to-end tests' poll, with the browser tests' bounds)."""
    return await _poll(probe, timeout_s=timeout_s, what=what, interval_s=interval_s)


async def reload_until(page: Page, url: str, ready: Callable[[], Awaitable[bool]], *, what: str) -> None:
    """Open ``url`` again until ``ready`` (an event-driven change has reached the page), within bounds."""

    async def probe() -> bool:
        await page.goto(url)
        return await ready()

    await eventually(probe, what=what, interval_s=2.0)


@dataclass(frozen=True)
class Stack:
    """The stack ``estate up`` started: where each service listens, and the key its tokens are signed with."""

    http: dict[str, str]
    data_dir: Path
    key_path: Path
    log_path: Path

    @property
    def portal(self) -> str:
        return self.http["portal"]

    def token(
        self, *roles: str, email: str = "browser-tests@cambridge.gov.uk", name: str = "Browser tests"
    ) -> str:
        return mint_token(
            AuthSettings(dev_key_path=self.key_path), subject=email, roles=list(roles), email=email, name=name
        )

    def api(
        self, service: str, *roles: str, email: str = "browser-tests@cambridge.gov.uk"
    ) -> httpx.AsyncClient:
        """A client of ``service``'s API (base ``/api/v1``) as someone holding ``roles``."""
        return httpx.AsyncClient(
            base_url=f"{self.http[service]}/api/v1",
            headers={"Authorization": f"Bearer {self.token(*roles, email=email)}"},
            timeout=30,
        )


@dataclass
class Watched:
    """A page and what its console said since the last :func:`check_page`."""

    page: Page
    persona: str | None
    console_errors: list[str] = field(default_factory=list)

    def listen(self) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                where = message.location.get("url", "") if message.location else ""
                self.console_errors.append(f"{message.text} ({where})")

        def on_page_error(error: Error) -> None:
            self.console_errors.append(f"uncaught: {error}")

        self.page.on("console", on_console)
        self.page.on("pageerror", on_page_error)


_WATCHED: dict[int, Watched] = {}


def watch(page: Page, persona: str | None) -> Watched:
    watched = Watched(page, persona)
    watched.listen()
    _WATCHED[id(page)] = watched
    return watched


def _format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation.get('impact')}): {violation['help']}  {violation.get('helpUrl', '')}"
        )
        for node in violation["nodes"]:
            lines.append(f"    at {node['target']}: {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.0-2.2 A and AA rules on the page as it is now.

    The script is evaluated through the DevTools protocol rather than added as a <script> element, so the
    portal's Content-Security-Policy stays on (a page that breaks it logs an error, which fails the check).
    """
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8"))
    result: list[dict[str, Any]] = await page.evaluate(
        """tags => axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]})
            .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target, failureSummary: n.failureSummary}))})))""",
        AXE_TAGS,
    )
    return result


async def check_page(page: Page, *, error_status: bool = False) -> None:
    """What every page must be: no axe-core violations (WCAG 2.2 AA), nothing in the console, one h1 and a
    <title>. ``error_status``: the page is an error page, so the browser's note that the document came with
    a 4xx status is expected (and nothing else)."""
    await page.wait_for_load_state("load")
    watched = _WATCHED.get(id(page))
    title = await page.title()
    assert title.strip(), f"{page.url} has no <title>"
    headings = await page.locator("h1").all_inner_texts()
    assert len(headings) == 1, f"{page.url} ({title}) should have exactly one h1, has {headings}"
    violations = await axe_violations(page)
    assert not violations, (
        f"axe-core found problems on {page.url} ({title}):\n{_format_violations(violations)}"
    )
    if watched is not None:
        errors = watched.console_errors
        if error_status:
            errors = [e for e in errors if not (e.startswith("Failed to load resource") and page.url in e)]
        watched.console_errors.clear()
        assert not errors, f"the console of {page.url} ({title}) has errors:\n" + "\n".join(errors)


async def heading(page: Page, text: str | re.Pattern[str]) -> None:
    """The page's h1 says ``text``, and the page passes :func:`check_page`."""
    await expect(page.get_by_role("heading", level=1)).to_have_text(text)
    await check_page(page)


def screenshots_dir(default: Path) -> Path:
    configured = os.environ.get("ESTATE_SCREENSHOTS_DIR")
    directory = Path(configured) if configured else default
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class Screenshots:
    """PNGs of the main pages, for the README (``ESTATE_SCREENSHOTS_DIR``) or the test's own directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def take(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        """``full_page=False`` keeps to the window (1280 x 900), for pages too long to show whole."""
        path = self.directory / f"{name}.png"
        await page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
        return path


# --- the keyboard ------------------------------------------------------------------------------------
#
# Journeys marked "by keyboard alone" use only these: Tab and Shift+Tab to move, Space and the arrow keys
# for radios, checkboxes and selects, typing, and Enter to follow a link or press a button. No clicks.

MAX_TABS = 400
"""Tab presses allowed to reach an element before the test says it cannot be reached by keyboard. Long
pages (the 51-item review checklist) are crossed with their "On this page" links, as people do."""


async def _is_focused(target: Locator) -> bool:
    return bool(await target.evaluate("el => el === document.activeElement"))


async def _focused_html(page: Page) -> str | None:
    html: str | None = await page.evaluate(
        "() => document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : null"
    )
    return html


async def tab_to(
    page: Page, target: Locator, *, max_presses: int = MAX_TABS, backwards: bool = False
) -> None:
    """Press Tab (or Shift+Tab) until ``target`` has the focus, as someone with a keyboard would; fail if it is
    not reached within ``max_presses`` (it cannot be reached by keyboard, or is not on the page)."""
    await expect(target).to_be_visible()
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(max_presses):
        if await _is_focused(target):
            return
        await page.keyboard.press(key)
    if not await _is_focused(target):
        raise AssertionError(
            f"{max_presses} presses of {key} did not reach {target}; the focus is on {await _focused_html(page)}"
        )


async def activate(page: Page, target: Locator) -> None:
    """Tab to a link or button and press Enter."""
    await tab_to(page, target)
    await page.keyboard.press("Enter")


async def press_button(page: Page, name: str | re.Pattern[str], *, exact: bool = True) -> None:
    """Tab to the button named ``name`` (a GOV.UK start button is a link with the role of a button), Enter."""
    await activate(page, page.get_by_role("button", name=name, exact=exact).first)


async def follow_link(page: Page, name: str | re.Pattern[str], *, exact: bool = True) -> None:
    await activate(page, page.get_by_role("link", name=name, exact=exact).first)


async def type_into(page: Page, target: Locator, text: str) -> None:
    """Tab to a text field, select what is in it and type ``text`` over it, key by key."""
    await tab_to(page, target)
    await page.keyboard.press("ControlOrMeta+a")
    await page.keyboard.press("Delete")
    if text:
        await page.keyboard.type(text)
    await expect(target).to_have_value(text)


async def choose(page: Page, radio: Locator) -> None:
    """Select a radio button by keyboard: Tab into its group (which lands on its checked radio, or its first),
    then the arrow keys, which move and select, and Space for the first."""
    await expect(radio).to_be_attached()
    name = await radio.get_attribute("name")
    in_group = (
        "name => !!document.activeElement && document.activeElement.type === 'radio'"
        " && document.activeElement.name === name"
    )
    for _ in range(MAX_TABS):
        if await page.evaluate(in_group, name):
            break
        await page.keyboard.press("Tab")
    else:
        raise AssertionError(
            f"Tab never reached the radio group {name!r}; the focus is on {await _focused_html(page)}"
        )
    count = await page.locator(f'input[type="radio"][name="{name}"]').count()
    for _ in range(count + 1):
        if await _is_focused(radio):
            break
        await page.keyboard.press("ArrowDown")
    else:
        raise AssertionError(f"the arrow keys did not reach {radio} in the group {name!r}")
    if not await radio.is_checked():
        await page.keyboard.press("Space")
    await expect(radio).to_be_checked()


async def tick(page: Page, checkbox: Locator) -> None:
    """Tick a checkbox by keyboard (Tab to it, Space)."""
    await tab_to(page, checkbox)
    if not await checkbox.is_checked():
        await page.keyboard.press("Space")
    await expect(checkbox).to_be_checked()


async def pick(page: Page, select: Locator, option: str) -> None:
    """Choose an option of a <select> by keyboard: Tab to it, then the arrow keys (a closed select changes
    its value with them, as it does for a keyboard user)."""
    await tab_to(page, select)
    labels: list[str] = await select.evaluate("el => Array.from(el.options).map(o => o.label.trim())")
    if option not in labels:
        raise AssertionError(f"{select} offers no {option!r}: {labels}")
    await page.keyboard.press("Home")
    for _ in range(len(labels) + 1):
        chosen = await select.evaluate(
            "el => el.options[el.selectedIndex] ? el.options[el.selectedIndex].label.trim() : ''"
        )
        if chosen == option:
            return
        await page.keyboard.press("ArrowDown")
    raise AssertionError(f"the arrow keys did not reach {option!r} in {select}")


async def type_date(page: Page, group: Locator, when: date) -> None:
    """Fill a GOV.UK date input (Day, Month, Year) by keyboard."""
    await type_into(page, group.get_by_label("Day"), str(when.day))
    await type_into(page, group.get_by_label("Month"), str(when.month))
    await type_into(page, group.get_by_label("Year"), str(when.year))
