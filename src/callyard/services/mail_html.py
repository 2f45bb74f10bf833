"""An email's HTML as the inbox shows it: its inline images (``cid:`` references) pointed at
the stored attachments, everything else as the email channel sanitised it. Pure, no I/O.

The channel keeps ``img src`` only for ``cid:`` when the mail comes in (a sender's remote image
is a tracking pixel and is never fetched). At display time, ``cid:`` references that name an
image of the same message become that attachment's authenticated URL
(``/attachments/<id>/inline``); every other ``img src`` is dropped. The HTML goes through nh3
again, so nothing else can come out of the rewrite.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

import nh3

# Formatting that mail uses, no scripts, forms, frames or styles that could restyle the inbox.
# The email channel sanitises incoming mail with these same lists (channels/email/html.py).
MAIL_TAGS = set(nh3.ALLOWED_TAGS) | {"font"}
MAIL_ATTRIBUTES = {
    "*": {"title", "dir", "lang", "align"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "font": {"color"},
}
MAIL_URL_SCHEMES = {"http", "https", "mailto", "cid"}
INLINE_URL = re.compile(r"/attachments/(\d+)/inline")
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


@dataclass(frozen=True)
class InlineFile:
    attachment_id: int
    content_id: str
    content_type: str


def content_key(content_id: str) -> str:
    """A Content-ID as ``cid:`` URLs name it: no angle brackets, %-escapes decoded, any case."""
    return unquote(content_id.strip()).strip("<>").strip().lower()


def with_inline_images(html: str, files: Iterable[InlineFile]) -> tuple[str, int]:
    """The HTML with its ``cid:`` images pointing at their attachments, and how many did."""
    urls = {
        content_key(f.content_id): f"/attachments/{f.attachment_id}/inline"
        for f in files
        if f.content_id and f.content_type.lower() in INLINE_TYPES
    }
    shown = 0

    def only_our_images(element: str, attribute: str, value: str) -> str | None:
        nonlocal shown
        if element != "img" or attribute != "src":
            return value
        if value.strip().lower().startswith("cid:"):
            url = urls.get(content_key(value.strip()[4:]))
            if url is not None:
                shown += 1
                return url
        return None  # remote (tracking), data:, or a cid: this message does not carry

    cleaned = nh3.clean(
        html,
        tags=MAIL_TAGS,
        attributes=MAIL_ATTRIBUTES,
        url_schemes=MAIL_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        attribute_filter=only_our_images,
        strip_comments=True,
    )
    return cleaned, shown
