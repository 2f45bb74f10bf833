// Callyard chat widget. Embed with: <script src="https://callyard.example.com/widget.js" async></script>
// Self-contained: builds its UI in a shadow root (the host page's CSS cannot break it), keeps the
// visitor's token in localStorage (a reload continues the conversation) and shows a message as
// sent only when the server acknowledged that it is stored.
(function () {
  "use strict";
  if (window.__callyardWidget) return;
  window.__callyardWidget = true;

  const script = document.currentScript;
  const base = new URL(script ? script.src : "/widget.js", window.location.href).origin;
  const TOKEN_KEY = "callyard.chat.token";
  const MAX_BYTES = 8192;

  function store(key, value) {
    try { value == null ? localStorage.removeItem(key) : localStorage.setItem(key, value); } catch (e) { /* private mode */ }
  }
  function load(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }

  function withSocketIO(then) {
    if (window.io) { then(window.io); return; }
    const s = document.createElement("script");
    s.src = base + "/static/vendor/socket.io.min.js";
    s.onload = () => then(window.io);
    document.head.appendChild(s);
  }

  // -- UI ---------------------------------------------------------------------------------------
  const host = document.createElement("div");
  host.id = "callyard-chat";
  document.body.appendChild(host);
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
    <style>
      :host { all: initial; }
      .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; background: #2f6f4e; color: #fff;
        border: none; border-radius: 24px; padding: 12px 18px; font: 15px system-ui, sans-serif; cursor: pointer;
        box-shadow: 0 4px 14px rgba(0,0,0,.2); }
      .panel { position: fixed; right: 20px; bottom: 76px; z-index: 2147483000; width: 340px; max-width: calc(100vw - 40px);
        height: 460px; max-height: calc(100vh - 100px); background: #fff; border-radius: 12px; display: flex; flex-direction: column;
        box-shadow: 0 8px 30px rgba(0,0,0,.25); font: 14px/1.4 system-ui, sans-serif; color: #1f2933; overflow: hidden; }
      .panel[hidden] { display: none; }
      header { background: #2f6f4e; color: #fff; padding: 12px 14px; font-weight: 600; display: flex; justify-content: space-between; }
      header button { background: none; border: none; color: #fff; font-size: 18px; cursor: pointer; }
      header button.end { font-size: 12px; text-decoration: underline; }
      .status { font-size: 12px; color: #6b7785; padding: 4px 14px; }
      ol { list-style: none; margin: 0; padding: 10px 12px; flex: 1; overflow-y: auto; display: flex; flex-direction: column; gap: 6px; }
      li { max-width: 80%; padding: 7px 10px; border-radius: 12px; white-space: pre-wrap; word-wrap: break-word; }
      li.in { align-self: flex-end; background: #2f6f4e; color: #fff; }
      li.out { align-self: flex-start; background: #eef1f4; }
      li.pending { opacity: .6; }
      li .who { display: block; font-size: 11px; opacity: .75; }
      li .err { display: block; font-size: 12px; color: #ffd7d2; }
      li a.file { display: block; color: inherit; margin-top: 4px; }
      form { display: flex; gap: 6px; border-top: 1px solid #e3e7eb; padding: 8px; }
      textarea { flex: 1; resize: none; font: inherit; border: 1px solid #d9dee4; border-radius: 8px; padding: 6px; height: 40px; }
      form button { background: #2f6f4e; color: #fff; border: none; border-radius: 8px; padding: 0 14px; cursor: pointer; }
    </style>
    <button class="launcher" part="launcher" aria-expanded="false">Chat with us</button>
    <section class="panel" hidden aria-label="Chat">
      <header><span>How can we help?</span><span><button class="end" title="End this chat">End chat</button><button class="close" aria-label="Close chat">×</button></span></header>
      <div class="status" role="status">Connecting…</div>
      <ol class="messages" aria-live="polite"></ol>
      <form><textarea name="text" placeholder="Type your message…" aria-label="Message"></textarea><button type="submit">Send</button></form>
    </section>`;
  const $ = (sel) => root.querySelector(sel);
  const panel = $(".panel"), launcher = $(".launcher"), list = $(".messages"), status = $(".status");
  const form = $("form"), box = form.elements.text;

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) { box.focus(); list.scrollTop = list.scrollHeight; }
  }
  launcher.addEventListener("click", () => setOpen(panel.hidden));
  $(".close").addEventListener("click", () => setOpen(false));

  const shown = new Set();   // message ids on screen
  function render(m, node) {
    const li = node || document.createElement("li");
    li.className = m.direction;
    li.replaceChildren();
    if (m.direction === "out") {
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = m.agent_name || "Agent";
      li.append(who);
    }
    li.append(document.createTextNode(m.body));
    for (const a of m.attachments || []) li.append(fileLink(a));
    if (m.id) { li.dataset.id = m.id; shown.add(m.id); }
    if (!node) list.append(li);
    list.scrollTop = list.scrollHeight;
    return li;
  }
  function show(m) { if (!shown.has(m.id)) render(m); }

  // A file the agent attached: fetched with the visitor's token (never put in a URL), then
  // saved from memory under its name.
  function fileLink(a) {
    const link = document.createElement("a");
    link.className = "file";
    link.href = "#";
    link.textContent = "📎 " + a.filename;
    link.addEventListener("click", async (e) => {
      e.preventDefault();
      try {
        const response = await fetch(base + "/chat/files/" + encodeURIComponent(a.id), {
          method: "POST", body: new URLSearchParams({ token: load(TOKEN_KEY) || "" }),
        });
        if (!response.ok) throw new Error("HTTP " + response.status);
        const url = URL.createObjectURL(await response.blob());
        const save = document.createElement("a");
        save.href = url;
        save.download = a.filename;
        root.append(save);
        save.click();
        save.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
      } catch (err) {
        status.textContent = "Could not download " + a.filename + "; try again.";
      }
    });
    return link;
  }

  // -- sending ---------------------------------------------------------------------------------
  // Messages wait in `pending` until the server acknowledges them as stored; they are (re)sent on
  // every new session, so one typed before the connection is up, or during a reconnect, is not lost.
  const pending = new Map();   // client_id -> {text, node}
  let socket = null;
  let ready = false;           // a session is established on the current connection
  let typingSent = 0;          // when we last told the server the visitor is typing

  function newClientId() {
    const raw = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
    return raw.replace(/[^A-Za-z0-9_-]/g, "");
  }

  function send(clientId, p) {
    socket.emit("message", { text: p.text, client_id: clientId }, (ack) => {
      if (pending.get(clientId) !== p) return;   // already answered (a resend after reconnect)
      pending.delete(clientId);
      p.node.classList.remove("pending");
      if (ack && ack.ok) {
        if (shown.has(ack.message.id)) p.node.remove(); else render(ack.message, p.node);
      } else {
        p.node.classList.add("failed");
        const err = document.createElement("span");
        err.className = "err";
        err.textContent = "Not sent: " + (ack ? ack.error.message : "no answer");
        p.node.append(err);
      }
    });
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = box.value;
    if (!text.trim()) return;
    if (new TextEncoder().encode(text).length > MAX_BYTES) {
      status.textContent = "That message is too long; please split it.";
      return;
    }
    const clientId = newClientId();
    const node = render({ direction: "in", body: text });
    node.classList.add("pending");
    const p = { text, node };
    pending.set(clientId, p);
    box.value = "";
    typingSent = 0;   // the next keystroke starts a new burst of typing
    if (ready) send(clientId, p);
  });
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  // Tell the agent the customer is typing, at most every 2 seconds (nothing is stored).
  box.addEventListener("input", () => {
    if (!ready || !box.value.trim() || Date.now() - typingSent < 2000) return;
    typingSent = Date.now();
    socket.emit("typing", {});
  });
  $(".end").addEventListener("click", () => {
    if (ready) socket.emit("leave", {}, () => { status.textContent = "Chat ended. Write again any time."; });
    setOpen(false);
  });

  // -- connection -----------------------------------------------------------------------------
  withSocketIO((io) => {
    socket = io(base + "/chat", {
      transports: ["websocket", "polling"],
      auth: (cb) => cb({ token: load(TOKEN_KEY) }),
    });
    socket.on("connect", () => { status.textContent = "Connected. We usually answer within minutes."; });
    socket.on("disconnect", () => { ready = false; status.textContent = "Reconnecting…"; });
    socket.on("connect_error", (err) => {
      status.textContent = "Cannot reach the chat right now; retrying…";
      if (err.data && err.data.error_id === "invalid-visitor-token") {
        store(TOKEN_KEY, null);     // a stale or forged token: start a fresh conversation
        socket.connect();
      }
    });
    socket.on("session", (data) => {
      store(TOKEN_KEY, data.token);
      for (const m of data.history) show(m);
      ready = true;
      for (const [clientId, p] of pending) send(clientId, p);
    });
    socket.on("message", show);
  });
})();
