"""Signatures on what Callyard posts to integrators (webhooks, CRM lookups). Pure: no I/O.

The signature is HMAC-SHA256 of the exact body bytes, keyed with the subscription's secret,
sent as ``X-Callyard-Signature: sha256=<hex>``. The body carries a ``timestamp`` (Unix
seconds), repeated in ``X-Callyard-Timestamp``; since the timestamp is inside the signed body,
a receiver that rejects old timestamps cannot be fooled by a replayed delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json

SIGNATURE_HEADER = "X-Callyard-Signature"
TIMESTAMP_HEADER = "X-Callyard-Timestamp"
EVENT_HEADER = "X-Callyard-Event"
DELIVERY_HEADER = "X-Callyard-Delivery"
DEFAULT_TOLERANCE = 300


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    body: bytes,
    signature: str,
    timestamp_header: str,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> bool:
    """What a receiver does: the signature matches, the body's timestamp is the header's, and
    it is recent. ``now`` is passed in (Unix seconds) so this stays free of the clock."""
    if not hmac.compare_digest(sign(secret, body), signature or ""):
        return False
    try:
        stamped = json.loads(body)["timestamp"]
        header = int(timestamp_header)
    except (ValueError, KeyError, TypeError):
        return False
    return stamped == header and abs(now - header) <= tolerance
