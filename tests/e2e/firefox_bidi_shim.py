"""Runs a stock Firefox for Playwright's WebDriver BiDi channel, bridging two protocol gaps.

Usage: ``firefox_bidi_shim.py FIREFOX [firefox arguments...]``; Playwright starts it (through a
launcher script named as ``executable_path``) in place of Firefox.

Playwright drives a stock Firefox (channel ``moz-firefox``) over WebDriver BiDi. Playwright 1.65
expects a newer Firefox than Debian's Firefox ESR (153) in two places:

- it sends ``emulation.setMediaFeaturesOverride`` when it creates every browser context, which
  Firefox 153 does not know ("unknown command"), so ``new_context()`` fails. The shim answers it
  with an empty success (pages keep the browser's own colour scheme; no test depends on it);
- it only reports a download whose ``browsingContext.downloadWillBegin``/``downloadEnd`` events
  carry a ``download`` or ``navigation`` id; Firefox 153 saves a file a page downloads from a
  ``blob:`` URL (as the chat widget does) but sends ``navigation: null`` and no ``download``. The
  shim gives such a pair of events the same ``download`` id.

Everything else passes through untouched. The shim starts Firefox, then puts a WebSocket relay
between Playwright and Firefox's BiDi endpoint; Playwright finds the endpoint in the browser's
stderr ("WebDriver BiDi listening on ws://…"), and the shim prints the relay's address there.
When Firefox ESR closes these gaps, the shim is a plain relay; drop it then.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys

from aiohttp import ClientSession, WSMsgType, web

# Commands the shim answers with an empty success instead of forwarding them.
ANSWERED_HERE = frozenset({"emulation.setMediaFeaturesOverride"})
DOWNLOAD_EVENTS = ("browsingContext.downloadWillBegin", "browsingContext.downloadEnd")
LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")


def answer_here(message: str) -> str | None:
    """The reply the shim gives itself to a command from Playwright, or None to forward it."""
    try:
        command = json.loads(message)
    except ValueError:
        return None
    if not isinstance(command, dict) or command.get("method") not in ANSWERED_HERE:
        return None
    return json.dumps({"type": "success", "id": command.get("id"), "result": {}})


class DownloadIds:
    """Gives a download Firefox reports without an id one, the same in its start and end events."""

    def __init__(self) -> None:
        self.started: dict[tuple[str, str], str] = {}
        self.count = 0

    def fill_in(self, message: str) -> str:
        if not any(name in message for name in DOWNLOAD_EVENTS):  # most messages: no parsing
            return message
        event = json.loads(message)
        params = event.get("params")
        if event.get("method") not in DOWNLOAD_EVENTS or params.get("download") or params.get("navigation"):
            return message
        key = (params.get("context"), params.get("url"))
        if event["method"] == DOWNLOAD_EVENTS[0]:
            self.count += 1
            self.started[key] = f"shim-download-{self.count}"
            params["download"] = self.started[key]
        elif key in self.started:
            params["download"] = self.started.pop(key)
        return json.dumps(event)


async def relay(request: web.Request, session: ClientSession, upstream: str) -> web.WebSocketResponse:
    """One Playwright connection, relayed to the same path on Firefox's BiDi server."""
    downloads = DownloadIds()
    client = web.WebSocketResponse(max_msg_size=0)
    await client.prepare(request)
    async with session.ws_connect(upstream + request.path_qs, max_msg_size=0) as firefox:

        async def to_client() -> None:
            async for message in firefox:
                if message.type != WSMsgType.TEXT:
                    break
                await client.send_str(downloads.fill_in(message.data))
            await client.close()

        downstream = asyncio.ensure_future(to_client())
        try:
            async for message in client:
                if message.type != WSMsgType.TEXT:
                    break
                reply = answer_here(message.data)
                if reply is None:
                    await firefox.send_str(message.data)
                else:
                    await client.send_str(reply)
        finally:
            downstream.cancel()
    return client


async def copy_stderr(stream: asyncio.StreamReader) -> None:
    while line := await stream.readline():
        sys.stderr.write(line.decode(errors="replace"))
        sys.stderr.flush()


async def main(firefox: str, args: list[str]) -> int:
    process = await asyncio.create_subprocess_exec(firefox, *args, stderr=asyncio.subprocess.PIPE)
    assert process.stderr is not None
    while True:
        line = await process.stderr.readline()
        if not line:  # Firefox ended before it listened: its own stderr has said why.
            return await process.wait()
        text = line.decode(errors="replace")
        found = LISTENING.search(text)
        if found:
            upstream = found.group(1)
            break
        sys.stderr.write(text)
    copying = asyncio.ensure_future(copy_stderr(process.stderr))

    async with ClientSession() as session:
        app = web.Application()
        app.router.add_get("/{path:.*}", lambda request: relay(request, session, upstream))
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        sys.stderr.write(f"WebDriver BiDi listening on ws://127.0.0.1:{port}\n")
        sys.stderr.flush()
        # Playwright ends the browser with BiDi's browser.close (or kills this process group).
        code = await process.wait()
        # Firefox's child processes share its stderr; do not wait on one that lingers.
        await asyncio.wait([copying], timeout=5)
        copying.cancel()
        await runner.cleanup()
    return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2:])))
