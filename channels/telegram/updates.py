"""Bot API updates → what the kernel stores. Pure: dicts in, dataclasses out, no I/O.

Only private chats with people are a customer channel: groups, channels, other bots and edits
are skipped (an edit would silently rewrite what the agent already read). Anything a person
can send that we cannot show as text (photo, document, voice note, location, contact) still
becomes a message, so nothing the customer sent disappears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Attachment kinds in the order Telegram may combine them on one message.
FILE_KINDS = ("photo", "document", "voice", "audio", "video", "video_note", "animation", "sticker")


@dataclass(frozen=True)
class Attachment:
    file_id: str
    kind: str
    name: str
    mime: str
    size: int | None


@dataclass(frozen=True)
class Inbound:
    update_id: int
    #: unique per message in Telegram: the chat and the message's number in it
    external_id: str
    #: the conversation: one interaction per private chat at a time
    chat_id: int
    user_id: int
    name: str
    text: str
    phone: str | None = None
    command: str | None = None
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Skipped:
    update_id: int
    reason: str


def parse_update(update: dict[str, Any]) -> Inbound | Skipped:
    update_id = update.get("update_id")
    if not isinstance(update_id, int):
        raise ValueError("an update without an integer update_id")
    message = update.get("message")
    if not isinstance(message, dict):
        kinds = sorted(k for k in update if k != "update_id")
        return Skipped(update_id, f"not a new message ({', '.join(kinds) or 'empty'})")
    chat = _obj(message.get("chat"))
    sender = _obj(message.get("from"))
    if chat.get("type") != "private":
        return Skipped(update_id, f"chat type {chat.get('type')!r} is not a private chat")
    if sender.get("is_bot"):
        return Skipped(update_id, "sent by a bot")
    chat_id, message_id, user_id = chat.get("id"), message.get("message_id"), sender.get("id")
    if not all(isinstance(v, int) for v in (chat_id, message_id, user_id)):
        return Skipped(update_id, "message without chat, message or user id")

    attachments = tuple(_attachments(message))
    text = _text(message.get("text")) or _text(message.get("caption"))
    command = _command(_text(message.get("text")))
    phone = None
    contact = message.get("contact")
    if isinstance(contact, dict) and contact.get("user_id") == user_id:
        # Only the sender's own shared contact tells us their phone; a forwarded card is
        # somebody else's.
        phone = _phone(contact.get("phone_number"))
    extra = _describe(message, attachments)
    body = "\n".join(part for part in (text, extra) if part)
    if not body:
        return Skipped(update_id, "a message kind Callyard does not store")
    return Inbound(
        update_id=update_id,
        external_id=f"{chat_id}:{message_id}",
        chat_id=chat_id,
        user_id=user_id,
        name=_name(sender),
        text=body,
        phone=phone,
        command=command,
        attachments=attachments,
    )


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _attachments(message: dict[str, Any]) -> list[Attachment]:
    found = []
    for kind in FILE_KINDS:
        value = message.get(kind)
        if not value:
            continue
        if kind == "photo":
            # Telegram sends every size it made; the last one is the largest.
            value = value[-1] if isinstance(value, list) else value
        if not isinstance(value, dict) or not isinstance(value.get("file_id"), str):
            continue
        found.append(
            Attachment(
                file_id=value["file_id"],
                kind=kind,
                name=str(value.get("file_name") or _default_name(kind, value)),
                mime=str(value.get("mime_type") or _default_mime(kind)),
                size=value.get("file_size") if isinstance(value.get("file_size"), int) else None,
            )
        )
    return found


def _describe(message: dict[str, Any], attachments: tuple[Attachment, ...]) -> str:
    lines = [f"[{a.kind.replace('_', ' ')}: {a.name}]" for a in attachments]
    location = message.get("location")
    lat, lon = _obj(location).get("latitude"), _obj(location).get("longitude")
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lon)):
        lines.append(f"[location: {lat:.6f}, {lon:.6f} https://www.openstreetmap.org/?mlat={lat}&mlon={lon}]")
    contact = message.get("contact")
    if isinstance(contact, dict) and isinstance(contact.get("phone_number"), str):
        who = " ".join(_text(contact.get(k)) for k in ("first_name", "last_name")).strip()
        lines.append(f"[contact: {who} {contact['phone_number']}]".replace("  ", " "))
    return "\n".join(lines)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _command(text: str) -> str | None:
    if not text.startswith("/"):
        return None
    word = text.split(maxsplit=1)[0][1:]
    # "/start@CallyardBot" in groups names the bot; private chats may send it too.
    return word.split("@", 1)[0].lower() or None


def _name(sender: dict[str, Any]) -> str:
    name = " ".join(_text(sender.get(k)) for k in ("first_name", "last_name")).strip()
    return name or (f"@{sender['username']}" if _text(sender.get("username")) else "")


def _phone(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    return f"+{digits}" if 6 <= len(digits) <= 15 else None


def _default_name(kind: str, value: dict[str, Any]) -> str:
    extension = {"photo": "jpg", "voice": "ogg", "video_note": "mp4", "sticker": "webp"}.get(kind, "bin")
    return f"{kind}-{value.get('file_unique_id') or value['file_id'][:16]}.{extension}"


def _default_mime(kind: str) -> str:
    return {
        "photo": "image/jpeg",
        "voice": "audio/ogg",
        "video_note": "video/mp4",
        "sticker": "image/webp",
    }.get(kind, "application/octet-stream")
