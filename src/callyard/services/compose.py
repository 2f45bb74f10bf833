"""The composer's extras: files an agent attaches to a reply, and a proper email reply (the
subject kept, the customer's last message quoted).

A file is uploaded (over HTTP, see ``web/compose_routes.py``) before the reply is sent: it
is written to the attachment store at once and kept as a ``ComposerUpload`` of that agent and
interaction. Sending the reply turns the uploads it names into attachments of the new
message in the same transaction (``attach_uploads``); removing one deletes it and its file.

``re_subject`` and ``quote_of`` are pure: the email gateway builds the reply with them and
the inbox shows the agent the same subject and quote before sending.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from ..clock import Clock
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..models import ACTIVE, Attachment, ComposerUpload, Interaction, Message
from ..store import Store
from .attachments import AttachmentStore, safe_filename

log = logging.getLogger(__name__)

#: Most files one reply may carry.
MAX_FILES = 10
#: Longest subject an agent may type (RFC 5322 advises lines under 998 characters).
MAX_SUBJECT = 255
#: The quote keeps at most this much of the customer's message.
MAX_QUOTE_CHARS = 20_000
#: Uploads of an interaction no longer active with their agent go after this long ...
UNSENDABLE_GRACE = dt.timedelta(minutes=10)
#: ... and any upload left unsent this long.
FORGOTTEN_AFTER = dt.timedelta(days=7)
_REPLY_PREFIXES = ("re:", "aw:", "sv:", "ответ:")


# -- pure ----------------------------------------------------------------------------------------


class FileTooLarge(InvalidInput):
    status = 413
    error_id = "file-too-large"


def re_subject(subject: str) -> str:
    """``Re: <subject>``, never ``Re: Re: <subject>``; blanks collapsed; a default if empty."""
    subject = " ".join((subject or "").split()) or "Your message"
    if not subject.lower().startswith(_REPLY_PREFIXES):
        subject = f"Re: {subject}"
    return subject


def quote_of(name: str, when: dt.datetime | str | None, body: str) -> str:
    """The customer's message as a reply quotes it: ``On <date>, <name> wrote:`` and ``> ``
    lines, as mail clients write it (and as the inbox folds it away)."""
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            when = None
    if isinstance(when, dt.datetime):
        stamp = when.strftime("%d %b %Y %H:%M") + " UTC"
        head = f"On {stamp}, {name or 'you'} wrote:"
    else:
        head = f"{name or 'You'} wrote:"
    text = (body or "").replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > MAX_QUOTE_CHARS:
        text = text[:MAX_QUOTE_CHARS] + "\n[…]"
    lines = [(">" + line if line.startswith(">") else "> " + line).rstrip() for line in text.split("\n")]
    return "\n".join([head, *lines])


def clean_subject(subject: object) -> str:
    if not isinstance(subject, str):
        raise InvalidInput("the subject must be text", error_id="invalid-subject")
    subject = " ".join(subject.split())
    if len(subject) > MAX_SUBJECT:
        raise InvalidInput(
            f"the subject can be at most {MAX_SUBJECT} characters", error_id="subject-too-long"
        )
    return subject


def upload_ids(value: object) -> list[int]:
    """The uploads a reply names: a list of distinct positive ids, at most ``MAX_FILES``."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**63 for v in value
    ):
        raise InvalidInput("attachments must be a list of upload ids", error_id="invalid-attachments")
    if len(value) > MAX_FILES:
        raise InvalidInput(f"a reply can carry at most {MAX_FILES} files", error_id="too-many-files")
    return list(dict.fromkeys(value))


def upload_dict(upload: ComposerUpload) -> dict[str, Any]:
    return {
        "id": upload.id,
        "interaction_id": upload.interaction_id,
        "filename": upload.filename,
        "content_type": upload.content_type,
        "size": upload.size,
    }


# -- inside a reply's transaction ----------------------------------------------------------------


def attach_uploads(message: Message, agent_id: int, ids: Sequence[int], now: dt.datetime) -> None:
    """Turn the agent's uploads for this interaction into the message's attachments.

    Call inside the transaction that creates ``message``: a reply naming a file that is gone
    (removed in another tab, or never this agent's) fails whole, nothing half-sent.
    """
    if not ids:
        return
    uploads = list(
        ComposerUpload.select().where(
            ComposerUpload.id.in_(list(ids)),
            ComposerUpload.agent == agent_id,
            ComposerUpload.interaction == message.interaction_id,
        )
    )
    if len(uploads) != len(ids):
        raise Conflict(
            "an attached file is no longer there (removed in another tab?); attach it again",
            error_id="upload-gone",
        )
    uploads.sort(key=lambda u: list(ids).index(u.id))  # the agent's order, as the customer gets them
    for upload in uploads:
        Attachment.create(
            message=message,
            filename=upload.filename,
            content_type=upload.content_type,
            size=upload.size,
            path=upload.path,
            created_at=now,
        )
    ComposerUpload.delete().where(ComposerUpload.id.in_([u.id for u in uploads])).execute()


# -- the service ----------------------------------------------------------------------------------


class ComposeService:
    def __init__(self, store: Store, clock: Clock, files: AttachmentStore, *, max_bytes: int) -> None:
        self._store = store
        self._clock = clock
        self._files = files
        self.max_bytes = max_bytes

    def upload(
        self, agent_id: int, interaction_id: int, filename: str, content_type: str, data: bytes
    ) -> ComposerUpload:
        """Keep a file for the agent's next reply in this interaction."""
        if len(data) > self.max_bytes:
            raise FileTooLarge(
                f"{safe_filename(filename)} is {len(data)} bytes; a file can be at most "
                f"{self.max_bytes} bytes (inbox.max_upload_bytes)",
                max_bytes=self.max_bytes,
            )
        if not data:
            raise InvalidInput("the file is empty", error_id="empty-file")
        self._active(agent_id, interaction_id)
        waiting = (
            ComposerUpload.select()
            .where(ComposerUpload.agent == agent_id, ComposerUpload.interaction == interaction_id)
            .count()
        )
        if waiting >= MAX_FILES:
            raise InvalidInput(f"a reply can carry at most {MAX_FILES} files", error_id="too-many-files")
        name = safe_filename(filename)
        kind = content_type.split(";")[0].strip().lower()[:255] if content_type else ""
        if not kind or "/" not in kind:
            kind = "application/octet-stream"
        path = self._files.save(data, name)  # the file first: no row without its file
        try:
            with self._store.atomic():
                return ComposerUpload.create(
                    agent=agent_id,
                    interaction=interaction_id,
                    filename=name,
                    content_type=kind,
                    size=len(data),
                    path=path,
                    created_at=self._clock(),
                )
        except Exception:
            self._files.delete(path)
            raise

    def remove(self, agent_id: int, upload_id: int) -> None:
        upload = ComposerUpload.get_or_none(ComposerUpload.id == upload_id)
        if upload is None:
            raise NotFound(f"no upload {upload_id}", error_id="upload-not-found")
        if upload.agent_id != agent_id:
            raise Forbidden("this file is not yours", error_id="not-your-upload")
        with self._store.atomic():
            removed = ComposerUpload.delete().where(ComposerUpload.id == upload_id).execute()
        if removed:
            self._files.delete(upload.path)

    def purge(self) -> int:
        """Remove uploads that can no longer be sent, and their files: the interaction is no
        longer active with the agent who uploaded them (ended, transferred) for a while, or
        they were left for days. Returns how many went."""
        now = self._clock()
        stale = (
            ComposerUpload.select(ComposerUpload.id, ComposerUpload.path)
            .join(Interaction)
            .where(
                (
                    (ComposerUpload.created_at < now - UNSENDABLE_GRACE)
                    & ((Interaction.state != ACTIVE) | (Interaction.agent != ComposerUpload.agent))
                )
                | (ComposerUpload.created_at < now - FORGOTTEN_AFTER)
            )
            .limit(1000)
        )
        gone = [(u.id, u.path) for u in stale]
        if not gone:
            return 0
        with self._store.atomic():
            ComposerUpload.delete().where(ComposerUpload.id.in_([i for i, _ in gone])).execute()
        for _, path in gone:  # after the commit: a row never points at a deleted file
            self._files.delete(path)
        log.info("removed %d composer upload(s) that can no longer be sent", len(gone))
        return len(gone)

    def pending(self, agent_id: int, interaction_id: int) -> list[dict[str, Any]]:
        """Files uploaded for a reply not sent yet (a reloaded tab shows them again)."""
        return [
            upload_dict(u)
            for u in ComposerUpload.select()
            .where(ComposerUpload.agent == agent_id, ComposerUpload.interaction == interaction_id)
            .order_by(ComposerUpload.id)
        ]

    def draft(self, agent_id: int, interaction_id: int) -> dict[str, Any]:
        """What the composer shows before the agent writes: for email the subject the reply
        will carry and the quote of the customer's last message; the files waiting."""
        interaction = self._active(agent_id, interaction_id, must_be_active=False)
        out: dict[str, Any] = {
            "channel": interaction.channel,
            "max_upload_bytes": self.max_bytes,
            "max_files": MAX_FILES,
            "uploads": self.pending(agent_id, interaction_id),
        }
        if interaction.channel == "email":
            last_in = last_inbound(interaction.id)
            out["subject"] = re_subject(interaction.subject)
            out["quote"] = (
                quote_of(sender_name(interaction, last_in), last_in.created_at, last_in.body)
                if last_in is not None
                else ""
            )
        return out

    @staticmethod
    def _active(agent_id: int, interaction_id: int, *, must_be_active: bool = True) -> Interaction:
        interaction = Interaction.get_or_none(Interaction.id == interaction_id)
        if interaction is None:
            raise NotFound(f"no interaction with id {interaction_id}", error_id="interaction-not-found")
        if interaction.agent_id != agent_id:
            raise Forbidden("this interaction is not yours", error_id="not-your-interaction")
        if must_be_active and interaction.state != ACTIVE:
            raise Conflict(
                f"cannot attach files: the interaction is {interaction.state}",
                error_id="not-active",
                state=interaction.state,
            )
        return interaction


def last_inbound(interaction_id: int, before: int | None = None) -> Message | None:
    query = Message.select().where(Message.interaction == interaction_id, Message.direction == "in")
    if before is not None:
        query = query.where(Message.id < before)
    return query.order_by(Message.id.desc()).first()


def sender_name(interaction: Interaction, message: Message | None) -> str:
    """Who the quote says wrote: the contact's name, else the address they wrote from."""
    if interaction.contact.name:
        return interaction.contact.name
    meta = (message.meta if message is not None else None) or {}
    return str(meta.get("from") or "")
