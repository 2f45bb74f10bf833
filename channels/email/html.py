"""HTML mail made safe to show (nh3, the maintained Rust ``ammonia`` sanitiser) and made
into plain text (for the message body, search and previews). No I/O here."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

from callyard.services.mail_html import MAIL_ATTRIBUTES, MAIL_TAGS, MAIL_URL_SCHEMES

# The formatting kept is the inbox's (callyard.services.mail_html), so both sanitise alike.
# Images only from the message itself (cid:): the inbox never fetches a sender's remote image
# (a tracking pixel).


def _image_filter(element: str, attribute: str, value: str) -> str | None:
    if element == "img" and attribute == "src" and not value.lower().startswith("cid:"):
        return None
    return value


def sanitise(html: str) -> str:
    """HTML that is safe to insert into the inbox page as it is."""
    return nh3.clean(
        html,
        tags=MAIL_TAGS,
        attributes=MAIL_ATTRIBUTES,
        url_schemes=MAIL_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_image_filter,
        strip_comments=True,
    )


_BLOCK = {
    "p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
    "pre", "table", "ul", "ol", "hr", "section", "article", "header", "footer",
}  # fmt: skip
_SKIP = {"script", "style", "head", "title", "template"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("• ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def to_text(html: str) -> str:
    """A readable plain-text rendering: blocks on their own lines, no markup."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
