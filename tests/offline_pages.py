"""What a generated page would fetch from the network: the check shared by the HTML report's
tests and the Data Docs tests (both must open with no network).

An asset is anything the browser loads by itself: `src`/`srcset`/`poster`/`data` of any tag,
`href` of anything but a hyperlink (`<link>` stylesheets, icons, preloads), CSS `url()` and
`@import` in `<style>` or `style=`. A hyperlink (`<a href>`, `<area href>`) loads only when
clicked, so it is not an asset; the pages decide separately whether they may have any.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.IGNORECASE)
ASSET_ATTRS = ("src", "srcset", "poster", "data", "href", "background")
HYPERLINK_TAGS = ("a", "area")


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.references: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ASSET_ATTRS and not (name == "href" and tag in HYPERLINK_TAGS):
                self.references += [part.split()[0] for part in value.split(",") if part.strip()]
            if name == "style":
                self.references += _css_references(value)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.references += _css_references(data)


def _css_references(css: str) -> list[str]:
    return [url or imported for url, imported in CSS_URL.findall(css)]


def remote_assets(html: str) -> list[str]:
    """Every http(s) or protocol-relative reference the page would load without a click."""
    parser = _Assets()
    parser.feed(html)
    parser.close()
    return [r for r in parser.references if REMOTE.match(r)]


def hyperlinks(html: str) -> list[str]:
    """Every `<a href>` target (what a reader can click)."""
    return re.findall(r"""<a\b[^>]*\bhref=["']([^"']*)["']""", html, flags=re.IGNORECASE)
