"""callyard.services.signing: what a webhook receiver checks, and what it must refuse."""

from __future__ import annotations

import hashlib
import hmac
import json

from callyard.services import signing

SECRET = "whsec_test"


def body(timestamp: int) -> bytes:
    return json.dumps({"id": "dlv_1", "event": "interaction.created", "timestamp": timestamp}).encode()


def test_the_signature_is_hmac_sha256_of_the_body():
    raw = body(1_700_000_000)
    expected = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert signing.sign(SECRET, raw) == f"sha256={expected}"


def test_a_fresh_signed_body_verifies():
    raw = body(1_700_000_000)
    assert signing.verify(SECRET, raw, signing.sign(SECRET, raw), "1700000000", now=1_700_000_010)


def test_tampering_a_wrong_secret_a_replay_or_a_swapped_timestamp_are_refused():
    raw = body(1_700_000_000)
    good = signing.sign(SECRET, raw)
    tampered = raw.replace(b"created", b"closed")
    assert not signing.verify(SECRET, tampered, good, "1700000000", now=1_700_000_000)
    assert not signing.verify("whsec_other", raw, good, "1700000000", now=1_700_000_000)
    assert not signing.verify(SECRET, raw, good, "1700000000", now=1_700_000_000 + 301)
    # An attacker who replays the body with a fresh timestamp header gains nothing: the signed
    # body still holds the old one.
    assert not signing.verify(SECRET, raw, good, "1700009999", now=1_700_009_999)
    assert not signing.verify(SECRET, raw, "", "1700000000", now=1_700_000_000)
    assert not signing.verify(SECRET, b"[]", signing.sign(SECRET, b"[]"), "1", now=1)
