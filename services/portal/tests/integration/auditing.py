"""The accessibility audit's tools: axe-core (pinned in infra/local/versions.env, installed by infra/local/axe.sh
outside the repository) run in a page at a phone's and a desktop's width, the English words a framework leaks
looked for in what the page shows, and the score sheet walked with the Tab key."""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from .browsing import REPO

PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")  # of a WCAG 2.1 A/AA rule: the best practices (landmarks...) are printed only
# what frameworks and browsers say in English when a page forgets to (FastAPI, Starlette, pydantic, HTML defaults)
ENGLISH = ("Submit", "Login", "Log in", "Logout", "Log out", "Sign in", "Sign out", "Error", "Not Found",
           "Method Not Allowed", "Internal Server Error", "Bad Request", "Forbidden", "Unauthorized",
           "Unprocessable", "Field required", "Invalid", "Next", "Previous", "Back", "Loading", "Cancel", "Save",
           "Delete", "Search", "Home", "Page", "Close", "Required", "Details", "Download", "Upload", "Print",
           "Password", "Username", "Welcome", "Continue", "Reset", "Select", "Choose", "Yes", "Status")
ENGLISH_WORDS = re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in ENGLISH) + r")(?![\w-])", re.IGNORECASE)

RUN_AXE = """async (tags) => {
  const found = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return found.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, tags: v.tags,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 200),
                              why: (n.failureSummary || '').replace(/\\s+/g, ' ')}))}));
}"""
# what a person reads or hears: the text, the title, and the words in attributes (buttons' values, placeholders,
# accessible names, images' alternatives, tooltips)
SHOWN_TEXT = """() => [document.title, document.body.innerText,
  ...[...document.querySelectorAll('[placeholder],[aria-label],[title],[alt],input[type=submit],input[type=button]')]
     .flatMap(e => ['placeholder', 'aria-label', 'title', 'alt', 'value'].map(a => e.getAttribute(a) || ''))
].join('\\n')"""


@functools.cache
def axe_source() -> str:
    """axe.min.js of the pinned version, installed by infra/local/axe.sh (npm, into the cache) when missing."""
    found = subprocess.run([str(REPO / "infra" / "local" / "axe.sh")], check=True, capture_output=True, text=True)
    return Path(found.stdout.strip().splitlines()[-1]).read_text(encoding="utf-8")


@dataclass
class Audit:
    """Every page audited and every violation found, each naming the page, the width, the rule and the element."""

    pages: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    english: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # moderate and minor findings, printed, not failing

    def visit(self, page: Page, name: str, url: str, status: int = 200) -> None:
        answer = page.goto(url)
        assert answer is not None and answer.status == status, f"{name}: {url} answered " \
            f"{answer.status if answer else None}, not {status}"
        self.here(page, name)

    def here(self, page: Page, name: str) -> None:
        """The page the browser shows now, at a phone's width and at a desktop's."""
        self.pages.append(f"{name} ({page.url})")
        for width, size in (("điện thoại", PHONE), ("máy tính", DESKTOP)):
            page.set_viewport_size(size)  # type: ignore[arg-type]
            if not page.evaluate("typeof window.axe !== 'undefined'"):
                page.evaluate(axe_source())  # by the DevTools protocol: the page's CSP (script-src 'self') stays
            for v in page.evaluate(RUN_AXE, [*WCAG21_AA, "best-practice"]):
                blocking = v["impact"] in BLOCKING and set(v["tags"]) & set(WCAG21_AA)
                for node in v["nodes"]:
                    line = f"{name} [{width}]: {v['id']} ({v['impact']}: {v['help']}) at {node['target']}: " \
                           f"{node['html']} — {node['why']}"
                    (self.violations if blocking else self.notes).append(line)
        for word in sorted({m.group(1) for m in ENGLISH_WORDS.finditer(page.evaluate(SHOWN_TEXT))}):
            self.english.append(f"{name}: “{word}”")
        page.set_viewport_size(PHONE)  # type: ignore[arg-type]

    def report(self) -> str:
        lines = [f"{len(self.pages)} pages audited:", *self.pages]
        if self.notes:
            lines += ["best practices, or moderate or minor (not failing):", *sorted(set(self.notes))]
        return "\n  ".join(lines)


def contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    def luminance(rgb: tuple[float, ...]) -> float:
        c = [x / 255 for x in rgb[:3]]
        lin = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


FOCUSED = """() => { const e = document.activeElement; const s = getComputedStyle(e);
  const colour = t => (t.match(/rgba?\\([^)]*\\)/) || [''])[0];
  const bg = getComputedStyle(document.body).backgroundColor;
  return {tag: e.tagName.toLowerCase(), type: e.type || '', name: e.name || '', text: (e.innerText || '').trim(),
          outline: s.outlineStyle, width: parseFloat(s.outlineWidth) || 0, outlineColour: colour(s.outlineColor),
          shadowColour: colour(s.boxShadow), background: colour(bg)}; }"""


def rgb(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in re.findall(r"[\d.]+", text)[:3]) if text else (255.0, 255.0, 255.0)


def tab_through(page: Page, limit: int = 400) -> list[dict[str, Any]]:
    """Each element the Tab key reaches from the top of the page, in order, with how its focus is drawn."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    reached: list[dict[str, Any]] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        found = page.evaluate(FOCUSED)
        if found["tag"] == "body" or (reached and found == reached[0]):
            break
        reached.append(found)
    return reached


def focus_visible(found: dict[str, Any]) -> bool:
    """An outline at least 2 px wide whose ring (outline or the shadow around it) stands 3:1 from the page."""
    if found["outline"] == "none" or found["width"] < 2:
        return False
    page = rgb(found["background"])
    rings = [found["outlineColour"], found["shadowColour"]]
    return max(contrast(rgb(ring), page) for ring in rings if ring) >= 3
