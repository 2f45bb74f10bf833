// Callyard agent inbox, phone calls and supervisors: the call bar of a voice conversation
// (state, timer, Hold/Resume, Hang up, Transfer to a queue or an agent, the recording once the
// call is over or a voicemail's audio), a supervisor's live calls with Listen / Whisper /
// Barge, and notices for supervisors (an agent put on not-ready).
// Customer-provided text (caller name and number) goes in with textContent only (CY.el).
// Errors the server answers are shown by CY.call (a toast with the server's message).
(function () {
  "use strict";

  const CY = window.Callyard;
  const { el, call, toast } = CY;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const LABELS = { ivr: "in the menu", queued: "waiting", ringing: "ringing", talking: "talking",
    on_hold: "on hold", ended: "ended", callback: "callback requested" };
  const IN_CALL = new Set(["talking", "on_hold"]);
  const liveCalls = new Map();   // supervisors: interaction id -> work item with .call

  function stateLabel(c) {
    if (c.state === "ended" && c.outcome === "voicemail") return "voicemail";
    return LABELS[c.state] || c.state;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    const ss = String(s % 60).padStart(2, "0");
    return (s >= 3600 ? Math.floor(s / 3600) + ":" : "") + mm + ":" + ss;
  }

  // The call timer: talk time since the answer (up to the end), or how long it has been on hold.
  function timerText(c) {
    if (!c || !c.answered_at) return "";
    const start = Date.parse(c.answered_at);
    if (c.state === "on_hold" && c.held_since) return "on hold " + clock((Date.now() - Date.parse(c.held_since)) / 1000);
    const end = c.ended_at ? Date.parse(c.ended_at) : Date.now();
    return clock((end - start) / 1000);
  }

  function player(url, cls) {
    // Same-site recordings only (never a URL from elsewhere in the page).
    if (typeof url !== "string" || !url.startsWith("/") || url.startsWith("//")) return null;
    return el("audio", { class: cls, controls: true, preload: "none", src: url });
  }

  // -- the call bar in the conversation ---------------------------------------------------------

  function buildBar(pane, i) {
    const bar = el("section", { class: "call-bar", "data-id": i.id, "aria-label": "Phone call" });
    const hold = el("button", { type: "button", class: "call-hold" }, "Hold");
    const resume = el("button", { type: "button", class: "call-resume" }, "Resume");
    const hangup = el("button", { type: "button", class: "call-hangup" }, "Hang up");
    const transfer = el("button", { type: "button", class: "call-transfer" }, "Transfer call");
    const form = el("form", { class: "call-transfer-form", hidden: true },
      el("label", {}, el("input", { type: "radio", name: "target", value: "queue", checked: true }), " to queue ",
        el("select", { name: "queue", "aria-label": "Queue" })),
      el("label", {}, el("input", { type: "radio", name: "target", value: "agent" }), " to agent ",
        el("select", { name: "agent", "aria-label": "Agent" })),
      el("button", { type: "submit" }, "Transfer"),
      el("button", { type: "button", class: "cancel" }, "Cancel"));
    const target = { interaction_id: i.id };
    const act = async (button, event) => {
      button.disabled = true;
      const ack = await call(event, target);
      button.disabled = false;
      return ack;
    };
    hold.addEventListener("click", () => act(hold, "call.hold"));
    resume.addEventListener("click", () => act(resume, "call.resume"));
    hangup.addEventListener("click", () => act(hangup, "call.hangup"));
    transfer.addEventListener("click", async () => {
      form.hidden = !form.hidden;
      if (form.hidden) return;
      CY.fillSelect(form.elements.queue, CY.state.settings.queues, null);
      const a = await call("colleagues");
      form.elements.agent.replaceChildren(...(a ? a.agents : []).map((c) =>
        el("option", { value: c.login, disabled: c.presence !== "available" }, c.name + " (" + c.presence + ")")));
    });
    $(".cancel", form).addEventListener("click", () => { form.hidden = true; });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const toAgent = form.elements.target.value === "agent";
      const data = toAgent ? { ...target, agent: form.elements.agent.value } : { ...target, queue: form.elements.queue.value };
      if (!(data.agent || data.queue)) { toast("Pick where the call goes."); return; }
      const ack = await call("call.transfer", data);
      if (ack) { form.hidden = true; toast("Call transferred."); }
    });
    bar.append(
      el("span", { class: "call-icon", "aria-hidden": "true" }, "📞"),
      el("span", { class: "call-state" }),
      el("span", { class: "call-timer", title: "Talk time" }),
      el("span", { class: "call-number muted" }),
      el("span", { class: "call-controls" }, hold, resume, hangup, transfer),
      el("span", { class: "call-supervise" }, ...superviseButtons(i.id)),
      form,
      el("div", { class: "call-player" }));
    $(".workbar", pane).after(bar);
    return bar;
  }

  function renderCall(pane, i) {
    let bar = $(".call-bar", pane);
    if (bar && Number(bar.dataset.id) !== i.id) { bar.remove(); bar = null; }
    if (i.channel !== "voice" || !i.call) { if (bar) bar.remove(); return; }
    if (!bar) bar = buildBar(pane, i);
    const c = i.call;
    bar.dataset.state = c.state;
    bar.dataset.answered = c.answered_at || "";
    bar.dataset.held = c.held_since || "";
    bar.dataset.ended = c.ended_at || "";
    $(".call-state", bar).textContent = stateLabel(c);
    $(".call-timer", bar).textContent = timerText(c);
    $(".call-number", bar).textContent = c.caller_number || "";
    const mine = i.agent_id === CY.state.me;
    const live = IN_CALL.has(c.state);
    $(".call-controls", bar).hidden = !(mine && live);
    $(".call-hold", bar).hidden = c.state !== "talking";
    $(".call-resume", bar).hidden = c.state !== "on_hold";
    if (!(mine && live)) $(".call-transfer-form", bar).hidden = true;
    $(".call-supervise", bar).hidden = !(CY.state.settings.manager && !mine && live);
    const box = $(".call-player", bar);
    const current = $("audio", box);
    if (c.recording_url && (!current || current.getAttribute("src") !== c.recording_url)) {
      box.replaceChildren(el("span", { class: "muted" }, c.outcome === "voicemail" ? "Voicemail: " : "Recording: "),
        player(c.recording_url, "call-recording"));
    } else if (!c.recording_url) box.replaceChildren();
  }

  // A call as a read-only look shows it (history, search): state, number, talk time, and its
  // recording or voicemail to play.
  function callSummary(i) {
    const c = i.channel === "voice" ? i.call : null;
    if (!c) return null;
    const audio = player(c.recording_url, "call-recording");
    return el("div", { class: "call-summary" },
      el("span", { class: "call-icon", "aria-hidden": "true" }, "📞"), " ",
      el("span", { class: "call-state" }, stateLabel(c)),
      c.caller_number ? el("span", { class: "call-number muted" }, " · " + c.caller_number) : null,
      c.answered_at ? el("span", { class: "call-timer" }, " · " + timerText(c)) : null,
      audio ? el("div", { class: "call-player" },
        el("span", { class: "muted" }, c.outcome === "voicemail" ? "Voicemail: " : "Recording: "), audio) : null);
  }

  // -- supervisors: listen, whisper, barge ------------------------------------------------------

  function superviseButtons(id) {
    return [["listen", "Listen"], ["whisper", "Whisper"], ["barge", "Barge"]].map(([mode, label]) => {
      const b = el("button", { type: "button", class: "call-" + mode, title: label + " (your phone rings)" }, label);
      b.addEventListener("click", async () => {
        b.disabled = true;
        const ack = await call("call." + mode, { interaction_id: id });
        b.disabled = false;
        if (ack) toast(label + ": your phone is connected to the call.");
      });
      return b;
    });
  }

  function liveSection() {
    let section = $("#live-calls");
    if (!section) {
      section = el("section", { id: "live-calls", class: "live-calls" },
        el("h2", {}, "Live calls"), el("ul", { class: "cards" }));
      const offers = $("#offers").closest("section");
      offers.before(section);
    }
    return section;
  }

  function renderLiveCalls() {
    if (!CY.state.settings.manager) { const s = $("#live-calls"); if (s) s.remove(); return; }
    const list = $("ul", liveSection());
    list.replaceChildren();
    if (!liveCalls.size) { list.append(el("li", { class: "empty muted" }, "No calls now.")); return; }
    for (const i of liveCalls.values()) {
      const c = i.call;
      const live = IN_CALL.has(c.state) && i.agent_id !== CY.state.me;
      list.append(el("li", { class: "card live-call", "data-id": i.id, "data-state": c.state },
        el("div", { class: "card-title" }, el("span", { class: "who" }, CY.contactName(i)), " ",
          el("span", { class: "muted" }, c.caller_number || "")),
        el("div", { class: "muted" }, (i.queue || "-") + " · ",
          el("span", { class: "call-state" }, stateLabel(c)),
          c.agent_name ? " · " + c.agent_name : "", " ",
          el("span", { class: "call-timer", "data-answered": c.answered_at || "", "data-held": c.held_since || "", "data-state": c.state }, timerText(c))),
        live ? el("div", { class: "card-actions" }, ...superviseButtons(i.id)) : null));
    }
  }

  function trackLive(i) {
    if (!i.call) return;
    if (i.call.state === "ended") liveCalls.delete(i.id); else liveCalls.set(i.id, i);
    renderLiveCalls();
  }

  // -- notices for supervisors ------------------------------------------------------------------

  function showNotice(n) {
    let section = $("#notices");
    if (!section) {
      section = el("section", { id: "notices", class: "notices", role: "alert" }, el("h2", {}, "Notices"), el("ul", {}));
      $(".sidebar").prepend(section);
    }
    const dismiss = el("button", { type: "button", class: "notice-dismiss", "aria-label": "Dismiss" }, "×");
    const item = el("li", { class: "notice notice-" + n.kind }, el("span", { class: "notice-text" }, n.text), " ", dismiss);
    dismiss.addEventListener("click", () => {
      item.remove();
      if (!$("#notices li")) section.remove();
    });
    $("ul", section).prepend(item);
    toast(n.text);
  }

  // -- live events ------------------------------------------------------------------------------

  CY.handlers.call = (i) => {
    const offer = CY.state.offers.get(i.id);
    if (offer) {
      offer.call = i.call;
      const card = document.querySelector('#offers li[data-id="' + i.id + '"] .card-title');
      if (card) {
        let tag = $(".call-state", card);
        if (!tag) { tag = el("span", { class: "call-state" }); card.append(" ", tag); }
        tag.textContent = stateLabel(i.call);
      }
    }
    if (CY.state.work.has(i.id) || i.agent_id === CY.state.me) CY.upsertWork(i);
    if (CY.state.settings.manager) trackLive(i);
  };
  CY.handlers.notice = (n) => showNotice(n);

  async function afterSnapshot() {
    if (!CY.state.settings.manager) { renderLiveCalls(); return; }
    const ack = await call("calls_live");
    if (!ack) return;
    liveCalls.clear();
    for (const i of ack.calls) liveCalls.set(i.id, i);
    renderLiveCalls();
  }

  function tickCalls() {
    for (const node of document.querySelectorAll(".call-bar")) {
      const c = { state: node.dataset.state, answered_at: node.dataset.answered, held_since: node.dataset.held, ended_at: node.dataset.ended };
      $(".call-timer", node).textContent = timerText(c);
    }
    for (const node of document.querySelectorAll(".live-call .call-timer")) {
      node.textContent = timerText({ state: node.dataset.state, answered_at: node.dataset.answered, held_since: node.dataset.held });
    }
  }

  Object.assign(CY, { renderCall, afterSnapshot, callSummary });

  document.addEventListener("DOMContentLoaded", () => { setInterval(tickCalls, 1000); });
})();
