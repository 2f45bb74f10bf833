"""Attachment files: kept under ``data_dir/attachments`` with names that are safe anywhere.

The file is written before the database row that points at it is committed; a failure in
between leaves an unreferenced file, never a row without its file.
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..errors import NotFound

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^\w.\- ()\[\]+,@]+", re.UNICODE)
MAX_NAME = 120


@dataclass(frozen=True)
class NewAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""
    inline: bool = False


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """A file name without paths, control characters or tricks, at most 120 characters.

    Letters of any script are kept (a Russian name stays readable); separators, ``..`` and
    leading dots go, so the name can neither climb out of a folder nor hide itself.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" ._")
    name = re.sub(r"\.{2,}", ".", name)
    if not name:
        name = fallback
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        keep_ext = dot and 0 < len(ext) <= 16
        name = stem[: MAX_NAME - len(ext) - 1] + "." + ext if keep_ext else name[:MAX_NAME]
    return name


class AttachmentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, data: bytes, filename: str) -> str:
        """Write the file; returns its path relative to the root (what the database keeps)."""
        folder = secrets.token_hex(2)
        relative = f"{folder}/{secrets.token_hex(8)}-{safe_filename(filename)}"
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as f:
            f.write(data)
        return relative

    def path(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            raise NotFound("the attachment's file is missing", error_id="attachment-missing")
        return path

    def delete(self, relative: str) -> None:
        try:
            (self.root / relative).unlink()
        except OSError as exc:
            log.warning("could not remove attachment file %s: %s", relative, exc)
