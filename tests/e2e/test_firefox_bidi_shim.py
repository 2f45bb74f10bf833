"""The two protocol gaps firefox_bidi_shim bridges between Playwright and Firefox ESR's BiDi."""

from __future__ import annotations

import json

from firefox_bidi_shim import DownloadIds, answer_here


def test_the_media_features_command_is_answered_with_success_other_commands_go_on() -> None:
    command = {"id": 7, "method": "emulation.setMediaFeaturesOverride", "params": {"features": {}}}
    assert json.loads(answer_here(json.dumps(command)) or "") == {"type": "success", "id": 7, "result": {}}
    assert answer_here(json.dumps({"id": 8, "method": "browsingContext.navigate", "params": {}})) is None
    assert answer_here("not json") is None


def event(method: str, **params: object) -> str:
    return json.dumps({"type": "event", "method": method, "params": {"context": "c1", **params}})


def test_a_download_without_an_id_gets_one_id_for_its_start_and_its_end() -> None:
    ids = DownloadIds()
    begin = json.loads(ids.fill_in(event("browsingContext.downloadWillBegin", url="blob:a", navigation=None)))
    other = json.loads(ids.fill_in(event("browsingContext.downloadWillBegin", url="blob:b", navigation=None)))
    end = json.loads(ids.fill_in(event("browsingContext.downloadEnd", url="blob:a", navigation=None)))
    assert begin["params"]["download"] == end["params"]["download"]
    assert other["params"]["download"] != begin["params"]["download"]


def test_downloads_with_an_id_and_other_messages_pass_untouched() -> None:
    ids = DownloadIds()
    with_navigation = event("browsingContext.downloadWillBegin", url="http://x/f", navigation="n1")
    assert ids.fill_in(with_navigation) == with_navigation
    load = event("browsingContext.load", url="http://x/")
    assert ids.fill_in(load) == load
    reply = json.dumps({"type": "success", "id": 3, "result": {"url": "browsingContext.downloadEnd"}})
    assert ids.fill_in(reply) == reply
