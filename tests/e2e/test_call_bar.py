"""Phone calls in the agent inbox, in a real Chromium against the FreeSWITCH simulator: the call
bar (state, timer, Hold/Resume, Hang up, Transfer), the recording player after the call, a
supervisor's live calls with Listen / Whisper / Barge, the not-ready notice, and caller names
that try to inject HTML (issues 5 and 8)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from callyard.testing.freeswitch import Caller, Phone

from harness import PASSWORD, AgentClient, Server
from test_roundtrip import INBOX_PATH, agent_goes_available, log_in
from voice_harness import Voice, voice_server, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)]

LAPTOP = {"width": 1366, "height": 768}
XSS_NAME = '<img src=x onerror="window.__pwned=1">Ольга'
XSS_NUMBER = "<b>15550100</b>"


@pytest.fixture
def voice(tmp_path, db_url) -> Iterator[Voice]:  # noqa: ANN001
    # anna's phone rings long enough for her to take the offer in the browser first.
    phones = (Phone("anna", answer_after=6.0), Phone("bob"), Phone("boss"))
    settings = {"CALLYARD_CHANNELS__VOICE__RING_SECONDS": "15"}
    with voice_server(tmp_path, db_url, agents=("anna", "bob"), phones=phones, settings=settings) as v:
        v.server.cli("agent", "add", "boss", "--name", "Boss", "--role", "supervisor", password=PASSWORD)
        yield v
        print("---- callyard output ----\n" + "".join(v.server.output))


@pytest.fixture
def server(voice: Voice) -> Server:
    """The e2e pages open this server: the one with the voice channel on."""
    return voice.server


def supervisor_logs_in(page: Page, login: str = "boss") -> None:
    page.goto("/login")
    log_in(page, login)
    expect(page).to_have_url(INBOX_PATH)
    expect(page.locator("#connection")).to_have_text("live")


def inside_viewport(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not laid out"
    assert box["x"] >= 0 and box["x"] + box["width"] <= LAPTOP["width"], f"{selector} sticks out: {box}"
    assert box["y"] + box["height"] <= LAPTOP["height"], f"{selector} is below the fold: {box}"


def test_agent_takes_a_call_holds_resumes_hangs_up_and_plays_the_recording(voice, pages) -> None:  # noqa: ANN001
    agent = pages("anna")
    agent.set_viewport_size(LAPTOP)
    agent_goes_available(agent)
    bob = AgentClient(voice.server.url, "bob")  # a colleague to transfer to, once she has the call
    channel = voice.sim.call(Caller(number=XSS_NUMBER, name=XSS_NAME, digits=["1"]))

    offer = agent.locator("#offers li.offer")
    expect(offer).to_contain_text("voice")
    expect(offer.locator(".who")).to_have_text(XSS_NAME)  # shown as text, never as markup
    offer.locator("button.accept").click()
    bar = agent.locator("#conversation .call-bar")
    expect(bar.locator(".call-state")).to_have_text("ringing")  # her phone rings
    expect(bar.locator(".call-state")).to_have_text("talking", timeout=15_000)  # she picked up
    expect(bar.locator(".call-number")).to_have_text(XSS_NUMBER)
    expect(agent.locator("#conversation .conv-contact")).to_have_text(XSS_NAME)
    expect(bar.locator(".call-timer")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    expect(bar.locator(".call-supervise")).to_be_hidden()  # agents never get Listen/Whisper/Barge
    expect(agent.locator("#live-calls")).to_have_count(0)
    for control in (".call-hold", ".call-hangup", ".call-transfer"):
        inside_viewport(agent, f"#conversation .call-bar {control}")

    bar.locator(".call-hold").click()
    wait_for(lambda: channel.held, what="the simulator putting the caller on hold (uuid_hold)")
    expect(bar.locator(".call-state")).to_have_text("on hold")
    expect(bar.locator(".call-timer")).to_contain_text("on hold")
    expect(bar.locator(".call-hold")).to_be_hidden()
    bar.locator(".call-resume").click()
    wait_for(lambda: not channel.held, what="the caller taken off hold")
    expect(bar.locator(".call-state")).to_have_text("talking")

    # Transfer to a specific agent: whatever the server answers is shown, never swallowed.
    bob.available()
    bar.locator(".call-transfer").click()
    form = bar.locator(".call-transfer-form")
    expect(form.locator("select[name=agent] option[value=bob]")).to_be_enabled()  # bob is available
    form.locator("input[value=agent]").check()
    form.locator("select[name=agent]").select_option("bob")
    # Bob goes to lunch after the list was drawn: the server refuses, the agent reads why, and
    # the call goes on with her (the transfer's success path: test_voice_transfer_agent.py).
    bob.ok("presence", {"presence": "break", "reason": "lunch"})
    form.locator("button[type=submit]").click()
    expect(agent.locator("#toast")).to_contain_text("Bob is on break (lunch)")
    expect(bar.locator(".call-state")).to_have_text("talking")

    bar.locator(".call-hangup").click()
    wait_for(lambda: not channel.alive, what="the caller's leg gone")
    expect(bar.locator(".call-state")).to_have_text("ended")
    expect(agent.locator("#conversation .wrapup")).to_be_visible()
    audio = bar.locator("audio.call-recording")
    expect(audio).to_have_count(1, timeout=15_000)
    interaction_id = voice.record(channel.uuid).interaction_id
    assert audio.get_attribute("src") == f"/calls/{interaction_id}/recording"
    response = agent.request.get(f"/calls/{interaction_id}/recording")
    assert response.status == 200 and response.body()[:4] == b"RIFF"
    assert agent.evaluate("window.__pwned") is None
    assert agent.locator("#conversation img, #offers img").count() == 0
    bob.close()


def test_supervisor_sees_live_calls_and_listens_whispers_barges(voice, pages) -> None:  # noqa: ANN001
    anna = AgentClient(voice.server.url, "anna")
    anna.available()
    boss = pages("boss")
    boss.set_viewport_size(LAPTOP)
    supervisor_logs_in(boss)
    expect(boss.locator("#live-calls")).to_contain_text("No calls now.")
    channel = voice.sim.call(Caller(number="15550199", name=XSS_NAME, digits=["1"]))
    card = boss.locator("#live-calls li.live-call")
    expect(card.locator(".call-state")).to_have_text("talking", timeout=15_000)
    expect(card.locator(".who")).to_have_text(XSS_NAME)
    expect(card).to_contain_text("Anna")
    for mode, flag in (
        ("listen", None),
        ("whisper", "eavesdrop_whisper_bleg"),
        ("barge", "eavesdrop_whisper_aleg"),
    ):
        before = set(voice.sim.phone("boss").calls)
        card.locator(f"button.call-{mode}").click()
        expect(boss.locator("#toast")).to_contain_text("your phone is connected")
        leg = wait_for(lambda before=before: set(voice.sim.phone("boss").calls) - before, what=mode).pop()
        spy = wait_for(lambda leg=leg: voice.sim.switch.get(leg), what=f"{mode} leg")
        wait_for(lambda spy=spy: spy.variables.get("eavesdrop_target") == channel.uuid, what=mode)
        if flag:
            assert spy.variables.get(flag) == "true"
        voice.sim.switch.api(f"uuid_kill {leg}")
    interaction_id = voice.record(channel.uuid).interaction_id
    anna.ok("call.hangup", {"interaction_id": interaction_id})
    expect(boss.locator("#live-calls")).to_contain_text("No calls now.")
    # The earlier call plays on the customer's card (the card a supervisor opens from the inbox).
    voice.wait_record(channel.uuid, lambda r: r.state == "ended" and r.recording is not None)
    boss.evaluate("id => window.Callyard.showCard(id)", voice.interaction(interaction_id).contact_id)
    player = boss.locator(f'#tab-contact .history-item[data-id="{interaction_id}"] audio.recording')
    expect(player).to_have_attribute("src", f"/calls/{interaction_id}/recording")
    expect(boss.locator("#tab-contact .card-name")).to_have_text(XSS_NAME)
    # Opened from the card, the read-only look at the call shows how it went and plays it too.
    boss.locator(f'#tab-contact .history-item[data-id="{interaction_id}"] .preview').click()
    summary = boss.locator("#overlay .call-summary")
    expect(summary.locator(".call-state")).to_have_text("ended")
    expect(summary.locator(".call-number")).to_contain_text("15550199")
    expect(summary.locator("audio.call-recording")).to_have_attribute(
        "src", f"/calls/{interaction_id}/recording"
    )
    assert boss.evaluate("window.__pwned") is None
    anna.close()


def test_a_voicemail_shows_its_audio_in_the_conversation(voice, pages) -> None:  # noqa: ANN001
    channel = voice.sim.call(Caller(name="Pat", digits=["8"], hangup_after=1.0))
    record = voice.wait_record(channel.uuid, lambda r: r.outcome == "voicemail")
    agent = pages("anna")
    agent.set_viewport_size(LAPTOP)
    agent_goes_available(agent)
    offer = agent.locator("#offers li.offer")
    expect(offer).to_contain_text("voice")
    offer.locator("button.accept").click()
    bar = agent.locator("#conversation .call-bar")
    expect(bar.locator(".call-state")).to_have_text("voicemail")
    expect(bar.locator(".call-controls")).to_be_hidden()  # nothing to hold or hang up
    audio = bar.locator("audio.call-recording")
    expect(audio).to_have_attribute("src", f"/calls/{record.interaction_id}/recording")
    expect(bar.locator(".call-player")).to_contain_text("Voicemail")
    inside_viewport(agent, "#conversation .call-bar audio.call-recording")
    assert agent.request.get(f"/calls/{record.interaction_id}/recording").body()[:4] == b"RIFF"
