"""One HTTP POST to an integrator's endpoint, for webhooks and the CRM lookup.

Redirects are not followed (a webhook that moved must be updated, not silently chased) and
only a bounded part of the answer is read. Under gevent (the core) the sockets are
cooperative; the dispatcher adds an overall deadline on top of the socket timeout.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "Callyard-Webhooks/1"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None when there was no HTTP answer at all
    body: bytes
    error: str  # "" when the answer was a 2xx

    @property
    def ok(self) -> bool:
        return not self.error


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    # Only http(s) URLs get here: webhooks.check_url and config validation refuse others.
    request = urllib.request.Request(  # noqa: S310
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    try:
        with _opener.open(request, timeout=timeout) as response:  # noqa: S310
            data = response.read(MAX_ANSWER_BYTES)
            status = response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return Answer(exc.code, b"", f"HTTP {exc.code} {exc.reason}".strip())
    except TimeoutError:
        return Answer(None, b"", f"no answer within {timeout:g} s")
    except urllib.error.URLError as exc:
        return Answer(None, b"", f"cannot reach {url}: {exc.reason}")
    except (OSError, ValueError) as exc:  # reset connections, garbage status lines, bad URLs
        return Answer(None, b"", f"{type(exc).__name__}: {exc}")
    if not 200 <= status < 300:
        return Answer(status, data, f"HTTP {status}")
    return Answer(status, data, "")
