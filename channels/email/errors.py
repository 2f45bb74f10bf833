"""What the SMTP gateway refuses, each with the SMTP reply it gives."""

from __future__ import annotations


class Refused(Exception):
    """A message refused for good; ``reply`` is the SMTP answer (5xx)."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class TooManyAttachments(Refused):
    pass


class AttachmentTooLarge(Refused):
    pass
