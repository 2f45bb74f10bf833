"""aiosmtpd's SMTP server, reading a message's DATA in large pieces instead of line by line.

aiosmtpd reads DATA one line at a time (a ``readuntil`` and a dozen Python steps per line):
a 400 kB attachment is 5,400 base64 lines, and that loop was a large part of the gateway's CPU
per message. Here the stream is read up to each ``".\\r\\n"`` (a line ending in a dot; base64
has none), which ends the data when it is a line of its own. The rules stay aiosmtpd's: a line
longer than ``line_length_limit`` is refused with ``500``, more than ``data_size_limit`` bytes
with ``552`` (both once the data has been read to its end), dots are unstuffed (RFC 5321
4.5.2), and the handler's ``handle_DATA`` answers.

To find ``".\\r\\n"`` beyond aiosmtpd's line-sized stream limit, the limit is raised while the
data is read (``StreamReader._limit``: asyncio has no public setter). Where that attribute is
missing, aiosmtpd's own line-by-line reading is used.
"""

from __future__ import annotations

import asyncio
import logging
import re

from aiosmtpd.smtp import MISSING, SMTP, syntax

log = logging.getLogger(__name__)

END = b".\r\n"
# A dot that starts a line was doubled by the client (transparency, RFC 5321 4.5.2).
_STUFFED = re.compile(rb"(?:^|(?<=\r\n))\.")
# Read beyond the size limit by this much before dropping what was read.
_SLACK = 64 * 1024
_NO_LIMIT_CAP = 64 * 1024 * 1024


class BulkDataSMTP(SMTP):
    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's command method
        if not isinstance(getattr(self._reader, "_limit", None), int) or self._decode_data:
            await super().smtp_DATA(arg)
            return
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data, refusal = await self._read_data()
        if refusal:
            self._set_post_data_state()
            await self.push(refusal)
            return
        content = _STUFFED.sub(b"", data) if data.startswith(b".") or b"\n." in data else data
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def _read_data(self) -> tuple[bytes, str]:
        """The data up to (not with) its ending dot line, or the refusal it gets. Once refused,
        what comes is read and dropped, not kept in memory."""
        reader = self._reader
        check = _Checks(self.data_size_limit, self.line_length_limit)
        pieces: list[bytes] = []
        at_line_start = True  # just after DATA's own line
        normal = reader._limit  # type: ignore[attr-defined]
        reader._limit = (self.data_size_limit or _NO_LIMIT_CAP) + _SLACK  # type: ignore[attr-defined]
        try:
            while True:
                try:
                    piece = await reader.readuntil(END)
                except asyncio.LimitOverrunError as exc:
                    # No ".\r\n" for a long way: more than the limit; read on, in parts.
                    piece = await reader.readexactly(exc.consumed)
                    check.add(piece)
                    pieces.clear()
                    at_line_start = piece.endswith(b"\r\n")
                    continue
                except asyncio.CancelledError:
                    # The connection was lost (aiosmtpd cancels the command on EOF).
                    log.info("Connection lost during DATA")
                    self._writer.close()
                    raise
                done = (piece == END and at_line_start) or piece.endswith(b"\r\n" + END)
                if done:
                    piece = piece[: -len(END)]
                check.add(piece)
                if check.refusal:
                    pieces.clear()
                else:
                    pieces.append(piece)
                if done:
                    break
                at_line_start = True  # every piece ends with "\r\n"
        finally:
            reader._limit = normal  # type: ignore[attr-defined]
        return b"".join(pieces), check.refusal


class _Checks:
    """aiosmtpd's limits on DATA, applied to pieces of whole lines (the last piece of a run
    without ".\r\n" may end inside a line): the first limit a line crosses gives the refusal,
    in aiosmtpd's order."""

    TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
    TOO_MUCH = "552 Error: Too much mail data"

    def __init__(self, size_limit: int | None, line_limit: int) -> None:
        self._size_limit = size_limit
        self._line_limit = line_limit
        self.size = 0
        self._partial = 0  # length of a line begun in the previous piece
        self.refusal = ""

    def add(self, piece: bytes) -> None:
        over = self._size_limit and self.size + len(piece) > self._size_limit
        if self.refusal or not (
            over or self._partial or max(map(len, piece.split(b"\r\n"))) + 2 > self._line_limit
        ):
            self.size += len(piece)
            return
        *lines, tail = piece.split(b"\r\n")
        for line in lines:
            self._line(self._partial + len(line), ended=True)
            self._partial = 0
        if tail:
            self._line(self._partial + len(tail), ended=False)
            self._partial += len(tail)

    def _line(self, length: int, *, ended: bool) -> None:
        if self.refusal:
            self.size += length + 2 * ended
            return
        if length > self._line_limit:  # aiosmtpd's stream limit: found before it is counted
            self.refusal = self.TOO_LONG
            return
        if not ended:
            return
        self.size += length + 2
        if self._size_limit and self.size > self._size_limit:
            self.refusal = self.TOO_MUCH
        elif length + 2 > self._line_limit:
            self.refusal = self.TOO_LONG
