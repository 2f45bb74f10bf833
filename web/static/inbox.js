// Callyard agent inbox: offers, my work, the conversation, presence. Everything arrives over
// Socket.IO; nothing needs a page reload. All customer-provided text is inserted with
// textContent (the el() helper), never as HTML.
//
// Every push carries the agent's event number (seq). The tab applies them in order, drops a
// number it already has (a duplicate after a reconnect), and on a gap or a reconnect asks the
// server for what came after the last number it saw.
(function () {
  "use strict";

  const CHANNEL_ICONS = { chat: "💬", email: "✉️", voice: "📞", telegram: "✈️", api: "🔌" };
  const state = {
    me: null,
    settings: { break_reasons: [], dispositions: [], stages: [], queues: [], sla_seconds: 120, manager: false },
    offers: new Map(),        // interaction id -> work item with .offer
    work: new Map(),          // interaction id -> work item
    selected: null,           // interaction id shown in the middle
    messages: new Set(),      // message ids shown for the selected conversation
    seq: null,                // last event number applied
    catchingUp: false,
    held: [],                 // live events that came in while catching up
  };
  const $ = (sel, root) => (root || document).querySelector(sel);
  let socket = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || k === "title" || k === "role") node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const child of children) {
      if (child != null) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function toast(text) {
    const t = $("#toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
  }

  // Errors that mean "what this tab shows is out of date": reload the inbox from the server.
  const STALE = new Set(["not-active", "invalid-transition", "stale-state", "not-your-interaction",
    "interaction-not-found", "offer-gone", "offer-taken", "offer-expired"]);

  function call(event, data) {
    return new Promise((resolve) => {
      socket.timeout(15000).emit(event, data || {}, (err, ack) => {
        if (err) { toast("No answer from the server; check your connection."); resolve(null); return; }
        if (!ack.ok) {
          toast(ack.error.message);
          if (STALE.has(ack.error.error_id)) refresh();
          resolve(null);
          return;
        }
        resolve(ack);
      });
    });
  }

  async function refresh() {
    const ack = await call("inbox");
    if (ack) applySnapshot(ack);
  }

  function since(iso) {
    if (!iso) return "";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 60 ? s + "s" : s < 3600 ? Math.floor(s / 60) + "m " + (s % 60) + "s" : Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  }

  function chanIcon(channel) {
    return el("span", { class: "chan chan-" + channel, title: channel, "aria-label": channel }, (CHANNEL_ICONS[channel] || "•") + " " + channel);
  }

  function contactName(i) { return (i.contact && i.contact.name) || "Customer"; }

  function sizeText(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  function fillSelect(select, values, current, blank) {
    select.replaceChildren();
    if (blank) select.append(el("option", { value: "" }, blank));
    for (const v of values) select.append(el("option", { value: v, selected: v === current }, v));
  }

  // -- offers ---------------------------------------------------------------------------------

  function alertOffer(i) {
    try {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx) {
        const ctx = alertOffer.ctx || (alertOffer.ctx = new Ctx());
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.08;
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start();
        osc.stop(ctx.currentTime + 0.3);
      }
    } catch (e) { /* no sound is better than no offer */ }
    if (window.Notification && Notification.permission === "granted" && (document.hidden || !document.hasFocus())) {
      const n = new Notification("New " + i.channel + " offer · " + (i.queue || ""), { body: contactName(i) + ": " + i.preview, tag: "offer-" + i.id });
      n.onclick = () => { window.focus(); n.close(); };
    }
  }

  function renderOffers() {
    const list = $("#offers");
    list.replaceChildren();
    if (!state.offers.size) { list.append(el("li", { class: "empty muted" }, "No offers.")); return; }
    for (const i of state.offers.values()) {
      const accept = el("button", { class: "accept", type: "button" }, "Accept");
      const reject = el("button", { class: "reject", type: "button" }, "Reject");
      accept.addEventListener("click", async () => {
        accept.disabled = reject.disabled = true;
        const ack = await call("accept", { interaction_id: i.id });
        state.offers.delete(i.id);
        renderOffers();
        if (ack) { upsertWork(ack.interaction); select(i.id); }
      });
      reject.addEventListener("click", async () => {
        accept.disabled = reject.disabled = true;
        await call("reject", { interaction_id: i.id });
        state.offers.delete(i.id);
        renderOffers();
      });
      const note = i.transfer ? el("div", { class: "transfer-note" }, "From " + (i.transfer.agent_name || "?") + ": " + (i.transfer.note || "(no note)")) : null;
      const card = el("li", { class: "card offer", "data-id": i.id },
        el("div", { class: "card-title" }, chanIcon(i.channel), " ", el("span", { class: "who" }, contactName(i))),
        i.subject ? el("div", { class: "subject" }, i.subject) : null,
        el("div", { class: "muted" }, "queue " + (i.queue || "-") + " · waiting ", el("span", { class: "waited", "data-since": i.queued_at }, since(i.queued_at))),
        el("div", { class: "preview" }, i.preview),
        note,
        el("div", { class: "card-actions" }, accept, reject, el("span", { class: "countdown", "data-expires": i.offer.expires_at })));
      card.addEventListener("click", (e) => { if (e.target.tagName !== "BUTTON") CY.showCard(i.contact.id); });
      list.append(card);
    }
    tick();
  }

  // -- my work --------------------------------------------------------------------------------

  function isMine(i) { return i.agent_id === state.me && i.state !== "closed" && i.state !== "abandoned" && i.state !== "offered" && i.state !== "queued"; }

  function upsertWork(i) {
    if (isMine(i)) state.work.set(i.id, i);
    else {
      state.work.delete(i.id);
      if (state.selected === i.id) clearConversation(i.state === "closed" ? "Done: the conversation is closed." : "This interaction is no longer yours.");
    }
    if (state.selected === i.id && state.work.has(i.id)) i.unread = 0;
    renderWork();
    if (state.selected === i.id && state.work.has(i.id)) renderHead(i);
  }

  function renderWork() {
    const list = $("#work");
    list.replaceChildren();
    const stage = $("#work-filter").value;
    const items = [...state.work.values()].filter((i) => !stage || i.stage === stage).sort((a, b) =>
      (b.activity_at || "").localeCompare(a.activity_at || "") || b.id - a.id);
    if (!items.length) { list.append(el("li", { class: "empty muted" }, stage ? "Nothing in " + stage + "." : "Nothing assigned.")); return; }
    for (const i of items) {
      const unread = state.selected === i.id ? 0 : i.unread || 0;
      const sla = i.waiting_since ? el("span", { class: "sla", "data-sla": i.waiting_since, "data-limit": i.sla_seconds, title: "Customer waiting for us" }, since(i.waiting_since)) : null;
      const item = el("li", { class: "card work" + (state.selected === i.id ? " selected" : ""), "data-id": i.id, tabIndex: 0 },
        el("div", { class: "card-title" }, chanIcon(i.channel), " ", el("span", { class: "who" }, contactName(i)),
          unread ? el("span", { class: "badge", title: "unread" }, unread) : null, sla),
        i.subject ? el("div", { class: "subject" }, i.subject) : null,
        el("div", { class: "muted state" }, i.state.replace("_", "-") + " · " + i.stage),
        el("div", { class: "preview" }, i.preview),
        i.labels.length ? el("div", { class: "labels" }, ...i.labels.map((l) => el("span", { class: "label" }, l))) : null);
      item.addEventListener("click", () => select(i.id));
      item.addEventListener("keydown", (e) => { if (e.key === "Enter") select(i.id); });
      list.append(item);
    }
    tick();
  }

  // -- conversation ---------------------------------------------------------------------------

  function clearConversation(text) {
    state.selected = null;
    $("#conversation").replaceChildren(el("p", { class: "muted placeholder" }, text || "Pick an interaction on the left."));
    renderWork();
  }

  async function select(id) {
    state.selected = id;
    const known = state.work.get(id);
    if (known) known.unread = 0;
    renderWork();
    const ack = await call("open", { interaction_id: id });
    if (!ack || state.selected !== id) return;
    const pane = $("#conversation");
    pane.replaceChildren($("#conversation-template").content.cloneNode(true));
    state.messages = new Set();
    const i = ack.interaction;
    if (state.work.has(id)) state.work.set(id, i);
    renderHead(i);
    for (const m of ack.messages) appendMessage(m);
    renderWhy(ack.routing);
    CY.showScript(ack.script);
    CY.showCard(i.contact.id);
    wireConversation(pane, id);
  }

  function renderWhy(routing) {
    const why = $("#tab-why .why-list");
    why.replaceChildren();
    for (const d of routing || []) {
      // strategy and escalation step first: "longest-idle · base", "most-skilled · step 1 (after 30s: min level 5)"
      why.append(el("li", { class: "why-decision" },
        el("span", { class: "why-rule" }, d.strategy + " · " + d.step), " ", d.reason));
      for (const c of d.candidates) {
        const score = c.eligible && c.score != null ? " (score " + c.score + ")" : "";
        why.append(el("li", { class: "muted sub" + (c.eligible ? " eligible" : "") }, c.name + ": " + c.reason + score));
      }
    }
  }

  function wireConversation(pane, id) {
    $(".btn-close", pane).addEventListener("click", async () => {
      const a = await call("close", { interaction_id: id });
      if (a) upsertWork(a.interaction);
    });
    $(".stage", pane).addEventListener("change", async (e) => {
      const a = await call("stage", { interaction_id: id, stage: e.target.value });
      if (a) upsertWork(a.interaction);
    });
    const labelForm = $(".label-form", pane);
    labelForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const label = labelForm.elements.label.value.trim();
      if (!label) return;
      labelForm.elements.label.value = "";   // ready for the next label at once
      const a = await call("label", { interaction_id: id, label });
      if (a) upsertWork(a.interaction);
      else if (!labelForm.elements.label.value) labelForm.elements.label.value = label;
    });
    wireTransfer(pane, id);
    const wrap = $(".wrapup", pane);
    wrap.addEventListener("submit", async (e) => {
      e.preventDefault();
      const a = await call("wrap_up", { interaction_id: id, disposition: wrap.elements.disposition.value, notes: wrap.elements.notes.value });
      if (a) { upsertWork(a.interaction); clearConversation("Wrapped up. Pick an interaction on the left."); }
    });
    const form = $(".composer", pane);
    const box = form.elements.body;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = box.value;
      if (!body.trim() && !CY.composeHasFiles(form)) return;
      box.disabled = true;
      const a = await call("reply", Object.assign({ interaction_id: id, body }, CY.composeExtras(form)));
      box.disabled = false;
      if (a) { box.value = ""; CY.composeSent(form); }
      box.focus();
    });
    box.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
    });
    CY.wireComposer(form, id);
    CY.wireAttachments(form, id);
    box.focus();
  }

  function wireTransfer(pane, id) {
    const form = $(".transfer-form", pane);
    $(".btn-transfer", pane).addEventListener("click", async () => {
      form.hidden = !form.hidden;
      if (form.hidden) return;
      const a = await call("colleagues");
      const agents = form.elements.agent;
      agents.replaceChildren();
      for (const c of (a ? a.agents : [])) {
        agents.append(el("option", { value: c.login, disabled: c.presence !== "available" }, c.name + " (" + (c.presence === "break" ? "break: " + c.presence_reason : c.presence) + ")"));
      }
      fillSelect(form.elements.queue, state.settings.queues, null);
    });
    $(".cancel", form).addEventListener("click", () => { form.hidden = true; });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const toQueue = form.elements.target.value === "queue";
      const data = { interaction_id: id, note: form.elements.note.value };
      if (toQueue) data.to_queue = form.elements.queue.value; else data.to_agent = form.elements.agent.value;
      const a = await call("transfer", data);
      if (a) { toast("Transferred."); upsertWork(a.interaction); }
    });
  }

  function renderHead(i) {
    const pane = $("#conversation");
    if (!$(".conv-head", pane)) return;
    $(".chan-icon", pane).replaceChildren(chanIcon(i.channel));
    $(".conv-contact", pane).textContent = contactName(i);
    $(".conv-meta", pane).textContent = (i.queue || "") + " · " + i.state.replace("_", "-");
    $(".conv-subject", pane).textContent = i.subject || "";
    renderCrm(pane, i.contact && i.contact.crm);
    const active = i.state === "active";
    $(".btn-close", pane).hidden = !active;
    $(".btn-transfer", pane).hidden = !active;
    $(".composer", pane).hidden = !active;
    if (!active) $(".transfer-form", pane).hidden = true;
    const stage = $(".stage", pane);
    fillSelect(stage, state.settings.stages, i.stage);
    const labels = $(".workbar .labels", pane);
    labels.replaceChildren(...i.labels.map((l) => {
      const remove = el("button", { type: "button", class: "label-remove", title: "Remove label", "aria-label": "Remove " + l }, "×");
      remove.addEventListener("click", async () => {
        const a = await call("label", { interaction_id: i.id, label: l, remove: true });
        if (a) upsertWork(a.interaction);
      });
      return el("span", { class: "label" }, l, remove);
    }));
    $(".workbar .transfer-note", pane).textContent = i.transfer ? "Transferred by " + (i.transfer.agent_name || "?") + ": " + (i.transfer.note || "(no note)") : "";
    const wrap = $(".wrapup", pane);
    const wasHidden = wrap.hidden;
    wrap.hidden = i.state !== "wrap_up";
    if (!wrap.hidden && wasHidden) fillSelect(wrap.elements.disposition, state.settings.dispositions, null, "Disposition…");
    $(".wrapup-left", pane).dataset.expires = i.wrap_up_until || "";
    CY.renderCall(pane, i);   // a phone call's controls, state and recording (inbox-calls.js)
  }

  // What the CRM lookup hook said about the customer, as "key: value" lines on the contact card.
  function renderCrm(pane, crm) {
    const head = $(".conv-head", pane);
    let card = $(".conv-crm", pane);
    if (!crm || !crm.data || !Object.keys(crm.data).length) { if (card) card.remove(); return; }
    if (!card) { card = el("dl", { class: "conv-crm muted" }); head.append(card); }
    card.replaceChildren(...Object.entries(crm.data).flatMap(([k, v]) =>
      [el("dt", {}, k), el("dd", {}, v === null ? "" : String(v))]));
  }

  // Email and other long-form channels: quoted earlier mail is folded away.
  function bodyNode(m, channel) {
    const body = el("div", { class: "msg-body" });
    const lines = m.body.split("\n");
    const cut = channel === "email" ? lines.findIndex((l, n) => l.startsWith(">") || (/^On .+ wrote:$/.test(l) && n > 0)) : -1;
    if (cut > 0) {
      body.append(lines.slice(0, cut).join("\n"));
      body.append(el("details", { class: "quoted" }, el("summary", {}, "Quoted text"), el("div", {}, lines.slice(cut).join("\n"))));
    } else body.append(m.body);
    return body;
  }

  // A message's files: downloads from this site only (never a URL from elsewhere in the page).
  function fileList(m) {
    const files = (m.attachments || []).map((a) => {
      const name = a.filename || "attachment";
      const href = typeof a.url === "string" && a.url.startsWith("/") && !a.url.startsWith("//") ? a.url : null;
      return el("li", {}, href ? el("a", { href, download: name, rel: "noopener" }, name) : name,
        typeof a.size === "number" ? el("span", { class: "muted" }, " " + sizeText(a.size)) : null);
    });
    return files.length ? el("ul", { class: "msg-files" }, ...files) : null;
  }

  function appendMessage(m) {
    if (state.messages.has(m.id)) return;   // a catch-up may resend what we have
    state.messages.add(m.id);
    const list = $("#conversation .messages");
    if (!list) return;
    const current = state.work.get(state.selected);
    const who = m.direction === "in" ? "Customer" : (m.agent_name || "Agent");
    const delivery = m.delivery && m.delivery.state === "failed" ? el("div", { class: "failed" }, "Not delivered: " + m.delivery.error) : null;
    // Email and other channels with more than text: the subject, what kind of automatic mail it
    // is, and the files (downloads only, from this site).
    const auto = m.auto ? el("span", { class: "msg-auto" }, m.auto) : null;
    list.append(el("li", { class: "msg msg-" + m.direction, "data-id": m.id },
      el("div", { class: "msg-who muted" }, who + " · " + new Date(m.created_at).toLocaleTimeString(), auto ? " " : null, auto),
      m.subject ? el("div", { class: "msg-subject" }, m.subject) : null,
      CY.richBody(m) || bodyNode(m, current ? current.channel : ""),
      fileList(m),
      delivery));
    list.scrollTop = list.scrollHeight;
  }

  // -- presence -------------------------------------------------------------------------------

  function renderPresence(agent) {
    $("#presence").value = agent.presence;
    const reason = $("#break-reason");
    const reasons = state.settings.break_reasons.slice();
    if (agent.presence_reason && !reasons.includes(agent.presence_reason)) reasons.push(agent.presence_reason);
    fillSelect(reason, reasons, agent.presence === "break" ? agent.presence_reason : null, "Reason…");
    reason.hidden = agent.presence !== "break";
    $("#presence-since").dataset.since = agent.presence_since;
    const phone = $("#phone-state");
    phone.hidden = !agent.phone_state;
    phone.textContent = agent.phone_state ? "phone: " + agent.phone_state : "";
    tick();
  }

  function wireFilter() {
    $("#work-filter").addEventListener("change", renderWork);
  }

  function wirePresence() {
    $("#presence").addEventListener("change", async (e) => {
      const presence = e.target.value;
      const reason = $("#break-reason");
      if (presence === "break" && !reason.value) {
        reason.hidden = false;
        reason.focus();
        toast("Pick a reason for the break.");
        return;
      }
      await call("presence", { presence, reason: reason.value });
    });
    $("#break-reason").addEventListener("change", (e) => {
      if (e.target.value) call("presence", { presence: "break", reason: e.target.value });
    });
  }

  // -- live events, in order --------------------------------------------------------------------

  const handlers = {
    offer(i) {
      const fresh = !state.offers.has(i.id);
      state.offers.set(i.id, i);
      renderOffers();
      if (fresh) { alertOffer(i); if (!state.selected) CY.showCard(i.contact.id); }
    },
    offer_withdrawn(d) {
      if (state.offers.delete(d.interaction_id)) { renderOffers(); toast("Offer withdrawn: " + d.reason); }
    },
    interaction(i) { upsertWork(i); },
    message(m) {
      if (m.interaction) upsertWork(m.interaction);
      if (state.selected === m.interaction_id) {
        appendMessage(m);
        const typing = $("#conversation .typing");
        if (typing && m.direction === "in") typing.hidden = true;
        if (m.direction === "in") call("read", { interaction_id: m.interaction_id });
      }
    },
    delivery_failed(d) { toast("A reply could not be delivered: " + d.error); },
    presence(agent) { renderPresence(agent); },
  };

  function receive(name, data) {
    if (data && typeof data.seq === "number" && state.seq !== null) {
      if (data.seq <= state.seq) return;                  // had it already
      if (state.catchingUp) { state.held.push([name, data]); return; }
      if (data.seq > state.seq + 1) {                     // something in between is missing
        state.held.push([name, data]);
        catchUp();
        return;
      }
      state.seq = data.seq;
    }
    handlers[name](data);
  }

  function applyEvents(events) {
    for (const e of events) {
      if (state.seq !== null && e.seq <= state.seq) continue;
      state.seq = e.seq;
      if (handlers[e.name]) handlers[e.name]({ ...e.data, seq: e.seq });
    }
  }

  async function catchUp() {
    if (state.catchingUp) return;
    state.catchingUp = true;
    try {
      const ack = await call("catch_up", { since: state.seq });
      if (!ack) return;
      if (!ack.complete) { await refresh(); return; }
      applyEvents(ack.events);
    } finally {
      state.catchingUp = false;
      const held = state.held.splice(0).sort((a, b) => a[1].seq - b[1].seq);
      for (const [name, data] of held) receive(name, data);
    }
  }

  // Queues no agent could ever take work from: said out loud, not silently starved.
  function renderUnservable(queues) {
    const box = $("#unservable");
    box.replaceChildren(...queues.map((q) => el("li", {}, q.queue + ": " + q.reason)));
    box.parentElement.hidden = !queues.length;
  }

  function applySnapshot(data) {
    state.me = data.agent.id;
    state.settings = data.settings;
    state.seq = data.seq;
    renderPresence(data.agent);
    state.offers = new Map(data.offers.map((i) => [i.id, i]));
    state.work = new Map(data.interactions.map((i) => [i.id, i]));
    renderOffers();
    renderWork();
    renderUnservable(data.unservable_queues || []);
    document.body.dataset.manager = data.settings.manager ? "yes" : "no";
    const filter = $("#work-filter");
    const chosen = filter.value;
    fillSelect(filter, data.settings.stages, chosen, "all stages");
    if (state.selected && state.work.has(state.selected)) select(state.selected);
    else if (state.selected) clearConversation("This interaction is no longer yours.");
    CY.afterSnapshot(data);   // e.g. a supervisor's live calls (inbox-calls.js)
  }

  function setConnection(up) {
    const c = $("#connection");
    c.textContent = up ? "live" : "reconnecting…";
    c.className = "conn " + (up ? "conn-up" : "conn-down");
  }

  function connect() {
    // On every (re)connect the server gets the last number we applied, and answers with what
    // we missed ("catch_up") or, if we are new or too far behind, everything ("inbox").
    socket = io("/agent", {
      transports: ["websocket", "polling"],
      auth: (cb) => cb(state.seq === null ? {} : { since: state.seq }),
    });
    socket.on("connect", () => setConnection(true));
    socket.on("disconnect", () => setConnection(false));
    socket.on("connect_error", (err) => {
      setConnection(false);
      if (err.data && err.data.error_id === "not-logged-in") window.location = "/login?next=/inbox";
    });
    socket.on("logged_out", () => { window.location = "/login"; });
    socket.on("inbox", applySnapshot);
    socket.on("catch_up", (d) => applyEvents(d.events));
    for (const name of Object.keys(handlers)) socket.on(name, (d) => receive(name, d));
    socket.on("typing", (d) => {
      const node = $("#conversation .typing");
      if (!node || state.selected !== d.interaction_id) return;
      node.hidden = false;
      clearTimeout(node.timer);
      node.timer = setTimeout(() => { node.hidden = true; }, 4000);
    });
  }

  function tick() {
    const now = Date.now();
    for (const node of document.querySelectorAll(".countdown")) {
      const left = Math.max(0, Math.round((Date.parse(node.dataset.expires) - now) / 1000));
      node.textContent = left + "s left";
    }
    for (const node of document.querySelectorAll("[data-since]")) node.textContent = since(node.dataset.since);
    for (const node of document.querySelectorAll("[data-sla]")) {
      node.textContent = since(node.dataset.sla);
      node.classList.toggle("late", (now - Date.parse(node.dataset.sla)) / 1000 > Number(node.dataset.limit));
    }
    const wrap = $("#conversation .wrapup-left");
    if (wrap) {
      wrap.textContent = wrap.dataset.expires
        ? "closes by itself in " + Math.max(0, Math.round((Date.parse(wrap.dataset.expires) - now) / 1000)) + "s"
        : "until you are done";
    }
  }

  function wireAlerts() {
    const button = $("#enable-alerts");
    if (!window.Notification || Notification.permission !== "default") return;
    button.hidden = false;
    button.addEventListener("click", async () => {
      await Notification.requestPermission();
      button.hidden = true;
    });
  }

  // What inbox-tools.js builds on.
  const CY = window.Callyard = {
    state, el, call, toast, since, chanIcon, contactName, fillSelect, select, upsertWork,
    showCard() {}, showScript() {}, wireComposer() {},
    // the composer's extras (inbox-compose.js)
    wireAttachments() {}, composeExtras() { return {}; }, composeHasFiles() { return false; }, composeSent() {},
    richBody() { return null; }, fileList, callSummary() { return null; },
  };
  // Calls and supervisors (inbox-calls.js): it adds its own live events to the handlers.
  Object.assign(CY, { handlers, isMine, renderCall() {}, afterSnapshot() {} });

  document.addEventListener("DOMContentLoaded", () => {
    wirePresence();
    wireFilter();
    wireAlerts();
    for (const tab of document.querySelectorAll(".tabs .tab")) {
      tab.addEventListener("click", () => CY.showTab(tab.dataset.tab));
    }
    CY.showTab = (name) => {
      for (const t of document.querySelectorAll(".tabs .tab")) t.classList.toggle("active", t.dataset.tab === name);
      for (const b of document.querySelectorAll(".tab-body")) b.hidden = b.id !== "tab-" + name;
    };
    connect();
    setInterval(tick, 1000);
  });
})();
