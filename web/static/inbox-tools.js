// Callyard agent inbox, the tools beside the conversation: the contact card (identities,
// history across channels, notes, merge), the queue's script, canned responses and the
// knowledge base in the composer, search, and the library of canned responses and articles.
// Customer-provided text goes in with textContent only (CY.el), never as HTML.
(function () {
  "use strict";

  const CY = window.Callyard;
  const { el, call, toast } = CY;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const CHANNELS = ["chat", "email", "voice", "telegram", "api"];
  const STATES = ["new", "queued", "offered", "active", "wrap_up", "closed", "abandoned"];

  function when(iso) { return iso ? new Date(iso).toLocaleString() : ""; }

  // -- overlay (search, library, read-only looks) ------------------------------------------------

  function overlay(title, ...content) {
    const box = $("#overlay");
    $(".overlay-title", box).textContent = title;
    $(".overlay-body", box).replaceChildren(...content);
    box.hidden = false;
    return $(".overlay-body", box);
  }
  function closeOverlay() { $("#overlay").hidden = true; }

  // -- contact card --------------------------------------------------------------------------

  let cardContact = null;

  // Opening the card of the customer already shown keeps it as it is (with what the agent is
  // typing in it); the card changes when the customer does, or after a note or a merge.
  async function showCard(contactId) {
    if (cardContact === contactId) { CY.showTab("contact"); return; }
    cardContact = contactId;
    const ack = await call("contact", { contact_id: contactId });
    if (!ack || cardContact !== contactId) return;
    renderCard(ack);
  }

  function historyItem(h) {
    const item = el("li", { class: "history-item", "data-id": h.id },
      el("div", {}, CY.chanIcon(h.channel), " ", when(h.created_at), " · ", h.state.replace("_", "-"),
        h.disposition ? " · " + h.disposition : ""),
      h.subject ? el("div", { class: "subject" }, h.subject) : null,
      el("div", { class: "preview" }, h.preview),
      recording(h.recording_url));
    if (h.can_open) {
      item.tabIndex = 0;
      item.classList.add("clickable");
      item.addEventListener("click", () => peek(h.id));
    }
    return item;
  }

  // Calls recorded by the voice channel play where they are listed (same-site URLs only).
  function recording(url) {
    if (typeof url !== "string" || !url.startsWith("/") || url.startsWith("//")) return null;
    return el("audio", { class: "recording", controls: true, preload: "none", src: url });
  }

  function renderCard(card) {
    const c = card.contact;
    cardContact = c.id;
    const body = $("#tab-contact");
    const noteForm = el("form", { class: "note-form" },
      el("textarea", { name: "body", rows: 2, placeholder: "Add a note about this customer", maxLength: 4000 }),
      el("button", { type: "submit" }, "Add note"));
    noteForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const ack = await call("contact_note", { contact_id: c.id, body: noteForm.elements.body.value });
      if (ack) renderCard(ack);
    });
    const mergeInput = el("input", { class: "merge-query", placeholder: "Find the same person (name, email, phone…)", maxLength: 200 });
    const mergeResults = el("ul", { class: "merge-results" });
    mergeInput.addEventListener("keydown", async (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      const ack = await call("contact_find", { query: mergeInput.value });
      // No answer (the toast says why) is not "nobody found": keep what was listed.
      if (!ack) return;
      mergeResults.replaceChildren();
      for (const other of ack.contacts.filter((o) => o.id !== c.id)) {
        const button = el("button", { type: "button", class: "merge" }, "Merge into this card");
        button.addEventListener("click", async () => {
          if (!window.confirm("Merge " + other.name + " into " + c.name + "? Their identities, history and notes move here.")) return;
          const merged = await call("contact_merge", { keep_id: c.id, merge_id: other.id });
          if (merged) { toast("Contacts merged."); renderCard(merged); }
        });
        mergeResults.append(el("li", {}, el("span", { class: "who" }, other.name), " ",
          el("span", { class: "muted" }, other.identities.map((i) => i.kind + ": " + i.value).join(", ")), " ", button));
      }
      if (!mergeResults.children.length) mergeResults.append(el("li", { class: "muted" }, "No other contact found."));
    });
    body.replaceChildren(
      el("h3", { class: "card-name" }, c.name),
      el("ul", { class: "identities" }, ...c.identities.map((i) => el("li", {}, el("span", { class: "muted" }, i.kind + ": "), i.value))),
      el("h4", {}, "Notes"),
      el("ul", { class: "notes" }, ...card.notes.map((n) => el("li", {}, el("div", { class: "note-body" }, n.body),
        el("div", { class: "muted small" }, (n.agent_name || "") + " · " + when(n.created_at))))),
      noteForm,
      el("h4", {}, "History (" + card.history.length + ")"),
      el("ul", { class: "history" }, ...card.history.map(historyItem)),
      el("details", { class: "merge-box" }, el("summary", {}, "Merge with another contact"), mergeInput, mergeResults));
    CY.showTab("contact");
  }

  // -- read-only look at an interaction --------------------------------------------------------

  async function peek(id) {
    const ack = await call("peek", { interaction_id: id });
    if (!ack) return;
    const i = ack.interaction;
    overlay("#" + i.id + " · " + CY.contactName(i),
      el("div", { class: "peek-meta" }, CY.chanIcon(i.channel), " ", (i.queue || "") + " · " + i.state.replace("_", "-") + " · stage " + i.stage,
        i.disposition ? " · " + i.disposition : "", i.labels.length ? " · labels: " + i.labels.join(", ") : ""),
      i.subject ? el("div", { class: "subject" }, i.subject) : null,
      CY.callSummary(i),
      el("ol", { class: "messages peek-messages" }, ...ack.messages.map((m) =>
        el("li", { class: "msg msg-" + m.direction }, el("div", { class: "msg-who muted" }, (m.direction === "in" ? "Customer" : m.agent_name || "Agent") + " · " + when(m.created_at)),
          el("div", { class: "msg-body" }, m.body), CY.fileList(m)))),
      el("h4", {}, "History"),
      el("ul", { class: "log" }, ...ack.log.map((e) => el("li", {}, when(e.at) + " · " + (e.agent_name || "") + " · " + e.kind.replace("_", " ") + " " + e.value + (e.note ? " — " + e.note : "")))));
  }

  // -- script ---------------------------------------------------------------------------------

  function showScript(steps) {
    const body = $("#tab-script");
    if (!steps || !steps.length) { body.replaceChildren(el("p", { class: "muted" }, "No script for this queue.")); return; }
    body.replaceChildren(el("ol", { class: "script" }, ...steps.map((s) => el("li", {}, el("label", {}, el("input", { type: "checkbox" }), " ", s)))));
  }

  // -- composer: canned responses and knowledge base ----------------------------------------------

  function insertText(box, text) {
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? box.value.length;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    box.focus();
    box.selectionStart = box.selectionEnd = start + text.length;
  }

  async function wireComposer(form, interactionId) {
    const box = form.elements.body;
    const canned = $(".canned", form);
    const ack = await call("canned");
    for (const c of (ack ? ack.canned : [])) canned.append(el("option", { value: c.id }, (c.shared ? "" : "★ ") + c.title));
    canned.addEventListener("change", async () => {
      if (!canned.value) return;
      const rendered = await call("canned_render", { id: Number(canned.value), interaction_id: interactionId });
      canned.value = "";
      if (rendered) insertText(box, rendered.text);
    });
    const query = $(".kb-query", form);
    const results = $(".kb-results", form);
    query.addEventListener("keydown", async (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      const found = await call("kb_search", { query: query.value });
      results.replaceChildren();
      for (const a of (found ? found.articles : [])) {
        const insert = el("button", { type: "button", class: "kb-insert" }, "Insert");
        insert.addEventListener("click", () => { insertText(box, a.body); results.replaceChildren(); });
        results.append(el("li", { class: "kb-article" }, el("strong", {}, a.title), " ", insert,
          el("div", { class: "kb-body muted" }, a.body)));
      }
      if (!results.children.length) results.append(el("li", { class: "muted" }, "No article found."));
    });
  }

  // -- search -----------------------------------------------------------------------------------

  function option(v, label) { return el("option", { value: v }, label || v); }

  function openSearch() {
    const s = CY.state.settings;
    const form = el("form", { class: "search-form" },
      el("input", { name: "contact", placeholder: "Contact (name, email, phone…)", maxLength: 200 }),
      el("input", { name: "text", placeholder: "Text in messages or subject", maxLength: 200 }),
      el("label", {}, "From ", el("input", { name: "date_from", type: "date" })),
      el("label", {}, "To ", el("input", { name: "date_to", type: "date" })),
      el("select", { name: "channel" }, option("", "Any channel"), ...CHANNELS.map((c) => option(c))),
      el("select", { name: "state" }, option("", "Any state"), ...STATES.map((c) => option(c, c.replace("_", "-")))),
      el("select", { name: "stage" }, option("", "Any stage"), ...s.stages.map((c) => option(c))),
      el("input", { name: "label", placeholder: "Label", maxLength: 32 }),
      el("select", { name: "scope" }, option("team", s.manager ? "Everyone's" : "Mine and my team's"), option("mine", "Only mine")),
      el("button", { type: "submit" }, "Search"));
    const results = el("ul", { class: "search-results" });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const criteria = {};
      for (const [k, v] of new FormData(form).entries()) if (v) criteria[k] = v;
      const ack = await call("search", criteria);
      results.replaceChildren();
      for (const r of (ack ? ack.results : [])) {
        const item = el("li", { class: "search-result clickable", "data-id": r.id, tabIndex: 0 },
          el("div", {}, CY.chanIcon(r.channel), " ", el("strong", { class: "who" }, CY.contactName(r)), " · ", when(r.created_at), " · ", r.state.replace("_", "-"), " · ", r.stage,
            r.labels.length ? " · " + r.labels.join(", ") : ""),
          r.subject ? el("div", { class: "subject" }, r.subject) : null,
          el("div", { class: "preview" }, r.preview));
        item.addEventListener("click", () => peek(r.id));
        results.append(item);
      }
      if (!results.children.length) results.append(el("li", { class: "muted" }, "Nothing found."));
    });
    overlay("Search", form, results);
    form.elements.contact.focus();
  }

  // -- library: canned responses and articles -----------------------------------------------------

  async function openLibrary() {
    const [canned, kb] = await Promise.all([call("canned"), call("kb_search", { query: "" })]);
    if (!canned || !kb) return;
    const manager = CY.state.settings.manager;
    const cannedList = el("ul", { class: "canned-list" });
    const renderCanned = (rows) => {
      cannedList.replaceChildren(...rows.map((c) => {
        const del = el("button", { type: "button", class: "delete" }, "Delete");
        del.hidden = !(c.mine || (c.shared && manager));
        del.addEventListener("click", async () => { const a = await call("canned_delete", { id: c.id }); if (a) renderCanned(a.canned); });
        return el("li", {}, el("strong", {}, c.title), " ", el("span", { class: "muted" }, c.shared ? "shared" : "personal"), " ", del,
          el("div", { class: "muted canned-body" }, c.body));
      }));
    };
    renderCanned(canned.canned);
    const cannedForm = el("form", { class: "canned-form" },
      el("input", { name: "title", placeholder: "Title", maxLength: 120, required: true }),
      el("textarea", { name: "body", rows: 3, placeholder: "Text; placeholders: {{contact.name}}, {{contact.first_name}}, {{agent.name}}, {{queue.name}}", required: true }),
      manager ? el("label", {}, el("input", { type: "checkbox", name: "shared" }), " shared with everyone") : null,
      el("button", { type: "submit" }, "Save canned response"));
    cannedForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = cannedForm.elements;
      const a = await call("canned_add", { title: f.title.value, body: f.body.value, shared: Boolean(f.shared && f.shared.checked) });
      if (a) { cannedForm.reset(); renderCanned(a.canned); }
    });
    const article = (a) => el("li", {}, el("strong", {}, a.title), " ", el("span", { class: "muted" }, (a.author || "") + " · " + when(a.updated_at)), el("div", { class: "kb-body" }, a.body));
    const articles = el("ul", { class: "kb-list" }, ...kb.articles.map(article));
    const kbForm = el("form", { class: "kb-form" },
      el("input", { name: "title", placeholder: "Article title", maxLength: 120, required: true }),
      el("textarea", { name: "body", rows: 4, placeholder: "Article text", required: true }),
      el("button", { type: "submit" }, "Save article"));
    kbForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      const title = kbForm.elements.title.value;
      const body = kbForm.elements.body.value;
      const a = await call("kb_save", { title, body });
      if (a) {
        toast("Article saved.");
        kbForm.reset();
        articles.prepend(article({ title, body, author: "you", updated_at: new Date().toISOString() }));
      }
    });
    overlay("Library", el("h3", {}, "Canned responses"), cannedList, cannedForm, el("h3", {}, "Knowledge base"), articles, kbForm);
  }

  Object.assign(CY, { showCard, showScript, wireComposer, peek });

  document.addEventListener("DOMContentLoaded", () => {
    $("#open-search").addEventListener("click", openSearch);
    $("#open-library").addEventListener("click", openLibrary);
    $("#overlay .overlay-close").addEventListener("click", closeOverlay);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeOverlay(); });
  });
})();
