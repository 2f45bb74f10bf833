// Callyard agent inbox. Everything arrives over Socket.IO; nothing needs a page reload.
// All customer-provided text is inserted with textContent, never as HTML.
(function () {
  "use strict";

  const state = {
    offers: new Map(),        // interaction id -> interaction with .offer
    work: new Map(),          // interaction id -> interaction
    selected: null,           // interaction id shown on the right
    messages: new Map(),      // message id -> true, for the selected conversation
    unread: new Map(),        // interaction id -> count
  };
  const $ = (sel, root) => (root || document).querySelector(sel);
  const socket = io("/agent", { transports: ["websocket", "polling"] });

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
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
    toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
  }

  function call(event, data) {
    return new Promise((resolve) => {
      socket.timeout(15000).emit(event, data || {}, (err, ack) => {
        if (err) { toast("No answer from the server; check your connection."); resolve(null); return; }
        if (!ack.ok) { toast(ack.error.message); resolve(null); return; }
        resolve(ack);
      });
    });
  }

  function since(iso) {
    if (!iso) return "";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 60 ? s + "s" : s < 3600 ? Math.floor(s / 60) + "m" : Math.floor(s / 3600) + "h";
  }

  function contactName(i) { return i.contact.name || "Customer"; }

  // -- offers ---------------------------------------------------------------------------------

  function renderOffers() {
    const list = $("#offers");
    list.replaceChildren();
    if (!state.offers.size) { list.append(el("li", { class: "empty muted" }, "No offers.")); return; }
    for (const i of state.offers.values()) {
      const left = el("span", { class: "countdown", "data-expires": i.offer.expires_at });
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
      list.append(el("li", { class: "card offer", "data-id": i.id },
        el("div", { class: "card-title" }, el("span", { class: "chan chan-" + i.channel }, i.channel), " ", contactName(i)),
        el("div", { class: "muted" }, "queue " + (i.queue || "-") + " · waiting ", el("span", { class: "waited", "data-since": i.queued_at }, since(i.queued_at))),
        el("div", { class: "preview" }, i.preview),
        el("div", { class: "card-actions" }, accept, reject, left)));
    }
    tick();
  }

  // -- my work --------------------------------------------------------------------------------

  function upsertWork(i) {
    if (i.state === "closed" || i.state === "abandoned") state.work.delete(i.id);
    else state.work.set(i.id, i);
    renderWork();
    if (state.selected === i.id) renderHead(i);
  }

  function renderWork() {
    const list = $("#work");
    list.replaceChildren();
    const items = [...state.work.values()].sort((a, b) => (b.last_message_at || "").localeCompare(a.last_message_at || ""));
    if (!items.length) { list.append(el("li", { class: "empty muted" }, "Nothing assigned.")); return; }
    for (const i of items) {
      const unread = state.unread.get(i.id) || 0;
      const item = el("li", { class: "card work" + (state.selected === i.id ? " selected" : ""), "data-id": i.id, tabIndex: 0 },
        el("div", { class: "card-title" }, el("span", { class: "chan chan-" + i.channel }, i.channel), " ", contactName(i),
          unread ? el("span", { class: "badge" }, unread) : null),
        el("div", { class: "muted" }, i.state.replace("_", "-")),
        el("div", { class: "preview" }, i.preview));
      item.addEventListener("click", () => select(i.id));
      item.addEventListener("keydown", (e) => { if (e.key === "Enter") select(i.id); });
      list.append(item);
    }
  }

  // -- conversation ---------------------------------------------------------------------------

  async function select(id) {
    state.selected = id;
    state.unread.delete(id);
    renderWork();
    const ack = await call("open", { interaction_id: id });
    if (!ack || state.selected !== id) return;
    const pane = $("#conversation");
    pane.replaceChildren($("#conversation-template").content.cloneNode(true));
    state.messages = new Map();
    renderHead(ack.interaction);
    for (const m of ack.messages) appendMessage(m);
    const why = $(".why-list", pane);
    for (const d of ack.routing) {
      why.append(el("li", {}, d.reason));
      for (const c of d.candidates) why.append(el("li", { class: "muted sub" }, c.name + ": " + c.reason));
    }
    $(".btn-close", pane).addEventListener("click", async () => {
      const a = await call("close", { interaction_id: id });
      if (a) upsertWork(a.interaction);
    });
    $(".btn-finish", pane).addEventListener("click", async () => {
      const a = await call("finish", { interaction_id: id });
      if (a) { upsertWork(a.interaction); state.selected = null; pane.replaceChildren(el("p", { class: "muted placeholder" }, "Pick an interaction on the left.")); }
    });
    const form = $(".composer", pane);
    const box = form.elements.body;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = box.value;
      if (!body.trim()) return;
      box.disabled = true;
      const a = await call("reply", { interaction_id: id, body });
      box.disabled = false;
      if (a) box.value = "";
      box.focus();
    });
    box.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
    });
    box.focus();
  }

  function renderHead(i) {
    const pane = $("#conversation");
    if (!$(".conv-head", pane)) return;
    $(".conv-contact", pane).textContent = contactName(i);
    $(".conv-meta", pane).textContent = i.channel + " · " + (i.queue || "") + " · " + i.state.replace("_", "-");
    $(".btn-close", pane).hidden = i.state !== "active";
    $(".btn-finish", pane).hidden = i.state !== "wrap_up";
    $(".composer", pane).hidden = i.state !== "active";
  }

  function appendMessage(m) {
    if (state.messages.has(m.id)) return;   // a catch-up may resend what we have
    state.messages.set(m.id, true);
    const list = $("#conversation .messages");
    if (!list) return;
    const who = m.direction === "in" ? "Customer" : (m.agent_name || "Agent");
    const delivery = m.delivery && m.delivery.state === "failed" ? el("div", { class: "failed" }, "Not delivered: " + m.delivery.error) : null;
    list.append(el("li", { class: "msg msg-" + m.direction, "data-id": m.id },
      el("div", { class: "msg-who muted" }, who + " · " + new Date(m.created_at).toLocaleTimeString()),
      el("div", { class: "msg-body" }, m.body), delivery));
    list.scrollTop = list.scrollHeight;
  }

  // -- presence -------------------------------------------------------------------------------

  function renderPresence(agent) {
    $("#presence").value = agent.presence;
    $("#break-reason").hidden = agent.presence !== "break";
    if (agent.presence === "break") $("#break-reason").value = agent.presence_reason || "";
    $("#presence-since").dataset.since = agent.presence_since;
    tick();
  }

  $("#presence").addEventListener("change", async (e) => {
    const presence = e.target.value;
    $("#break-reason").hidden = presence !== "break";
    await call("presence", { presence, reason: $("#break-reason").value });
  });
  $("#break-reason").addEventListener("change", (e) => call("presence", { presence: "break", reason: e.target.value }));

  // -- socket events --------------------------------------------------------------------------

  function setConnection(up) {
    const c = $("#connection");
    c.textContent = up ? "live" : "reconnecting…";
    c.className = "conn " + (up ? "conn-up" : "conn-down");
  }

  socket.on("connect", () => setConnection(true));
  socket.on("disconnect", () => setConnection(false));
  socket.on("connect_error", (err) => {
    setConnection(false);
    if (err.data && err.data.error_id === "not-logged-in") window.location = "/login?next=/inbox";
  });
  socket.on("logged_out", () => { window.location = "/login"; });

  // Sent on every (re)connect: replaces what we show, so nothing missed while away is lost.
  socket.on("inbox", (data) => {
    renderPresence(data.agent);
    state.offers = new Map(data.offers.map((i) => [i.id, i]));
    state.work = new Map(data.interactions.map((i) => [i.id, i]));
    renderOffers();
    renderWork();
    if (state.selected && state.work.has(state.selected)) select(state.selected);
  });
  socket.on("offer", (i) => {
    state.offers.set(i.id, i);
    renderOffers();
    if (window.Notification && Notification.permission === "granted" && document.hidden) {
      new Notification("New " + i.channel + " offer", { body: contactName(i) + ": " + i.preview });
    }
  });
  socket.on("offer_withdrawn", (d) => {
    if (state.offers.delete(d.interaction_id)) { renderOffers(); toast("Offer withdrawn: " + d.reason); }
  });
  socket.on("interaction", (i) => upsertWork(i));
  socket.on("message", (m) => {
    if (state.selected === m.interaction_id) appendMessage(m);
    else { state.unread.set(m.interaction_id, (state.unread.get(m.interaction_id) || 0) + 1); renderWork(); }
  });
  socket.on("delivery_failed", (d) => toast("A reply could not be delivered: " + d.error));
  socket.on("presence", renderPresence);

  function tick() {
    for (const node of document.querySelectorAll(".countdown")) {
      const left = Math.max(0, Math.round((Date.parse(node.dataset.expires) - Date.now()) / 1000));
      node.textContent = left + "s left";
    }
    for (const node of document.querySelectorAll("[data-since]")) node.textContent = since(node.dataset.since);
  }
  setInterval(tick, 1000);
  if (window.Notification && Notification.permission === "default") {
    document.addEventListener("click", () => Notification.requestPermission(), { once: true });
  }
})();
