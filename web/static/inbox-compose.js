// Callyard agent inbox: the composer's extras. Files are attached by uploading each at once
// (POST /inbox/uploads, with the session and the CSRF token) and can be removed before sending;
// the reply names the uploads it carries. For email the composer shows the subject (editable)
// and a folded preview of the quote that goes below the reply. Emails with inline (cid:) images
// are shown as their sanitised HTML, the images loaded from this site only.
// File names and quotes are customer- or agent-provided: always inserted as text.
(function () {
  "use strict";
  const CY = window.Callyard;
  const { el, call, toast } = CY;
  const $ = (sel, root) => (root || document).querySelector(sel);

  function csrfToken() {
    const input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function sizeText(bytes) {
    return bytes < 1024 ? bytes + " B" : bytes < 1048576 ? (bytes / 1024).toFixed(1) + " KB" : (bytes / 1048576).toFixed(1) + " MB";
  }

  // One composer's files: upload id -> list item; how many are still uploading.
  function filesOf(form) {
    if (!form._compose) form._compose = { uploads: new Map(), uploading: 0, maxBytes: null, email: false };
    return form._compose;
  }

  function setSending(form) {
    const files = filesOf(form);
    const send = $(".composer-row button[type=submit]", form);
    if (send) send.disabled = files.uploading > 0;
  }

  async function answer(response) {
    try { return await response.json(); } catch (e) { return null; }
  }

  function showUploaded(form, upload) {
    const files = filesOf(form);
    const remove = el("button", { type: "button", class: "file-remove", title: "Remove", "aria-label": "Remove " + upload.filename }, "×");
    const item = el("li", { class: "pending-file", "data-upload": upload.id },
      el("span", { class: "file-name" }, upload.filename), " ",
      el("span", { class: "muted" }, sizeText(upload.size)), remove);
    remove.addEventListener("click", async () => {
      const response = await fetch("/inbox/uploads/" + upload.id, {
        method: "DELETE", headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin",
      });
      const body = await answer(response);
      if (!response.ok && response.status !== 404) { toast((body && body.error && body.error.message) || "Could not remove the file."); return; }
      files.uploads.delete(upload.id);
      item.remove();
    });
    files.uploads.set(upload.id, item);
    return item;
  }

  async function upload(form, interactionId, file) {
    const files = filesOf(form);
    const list = $(".pending-files", form);
    const item = el("li", { class: "pending-file uploading" }, el("span", { class: "file-name" }, file.name), " ",
      el("span", { class: "muted" }, "uploading…"));
    list.append(item);
    if (files.maxBytes != null && file.size > files.maxBytes) {
      item.className = "pending-file failed";
      item.replaceChildren(el("span", { class: "file-name" }, file.name), " ",
        el("span", { class: "file-error" }, "too large: at most " + sizeText(files.maxBytes)), dismiss(item));
      return;
    }
    files.uploading += 1;
    setSending(form);
    try {
      const data = new FormData();
      data.append("interaction_id", String(interactionId));
      data.append("file", file, file.name);
      const response = await fetch("/inbox/uploads", {
        method: "POST", body: data, headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin",
      });
      const body = await answer(response);
      if (response.ok && body && body.ok) {
        item.replaceWith(showUploaded(form, body.upload));
      } else {
        const why = (body && body.error && body.error.message) || (response.status === 413 ? "the file is too large" : "not uploaded (HTTP " + response.status + ")");
        item.className = "pending-file failed";
        item.replaceChildren(el("span", { class: "file-name" }, file.name), " ", el("span", { class: "file-error" }, why), dismiss(item));
      }
    } catch (e) {
      item.className = "pending-file failed";
      item.replaceChildren(el("span", { class: "file-name" }, file.name), " ", el("span", { class: "file-error" }, "not uploaded: no connection"), dismiss(item));
    } finally {
      files.uploading -= 1;
      setSending(form);
    }
  }

  function dismiss(item) {
    const button = el("button", { type: "button", class: "file-remove", title: "Dismiss" }, "×");
    button.addEventListener("click", () => item.remove());
    return button;
  }

  CY.wireAttachments = async function (form, interactionId) {
    const files = filesOf(form);
    const input = $(".attach-input", form);
    input.addEventListener("change", () => {
      for (const file of Array.from(input.files)) upload(form, interactionId, file);
      input.value = "";
    });
    const draft = await call("draft", { interaction_id: interactionId });
    if (!draft) return;
    files.maxBytes = draft.max_upload_bytes;
    const list = $(".pending-files", form);
    for (const u of draft.uploads) if (!files.uploads.has(u.id)) list.append(showUploaded(form, u));
    if (draft.channel === "email") {
      files.email = true;
      $(".compose-email", form).hidden = false;
      $(".compose-subject", form).value = draft.subject || "";
      const preview = $(".quote-preview", form);
      preview.hidden = !draft.quote;
      $(".quote-text", preview).textContent = draft.quote || "";
    }
  };

  CY.composeHasFiles = (form) => filesOf(form).uploads.size > 0;

  CY.composeExtras = function (form) {
    const files = filesOf(form);
    // In the order the agent sees them (picked), not the order the uploads finished in.
    const shown = Array.from(form.querySelectorAll(".pending-files li[data-upload]"), (li) => Number(li.dataset.upload));
    const extras = { attachments: shown.filter((id) => files.uploads.has(id)) };
    if (files.email) extras.subject = $(".compose-subject", form).value;
    return extras;
  };

  CY.composeSent = function (form) {
    const files = filesOf(form);
    for (const item of files.uploads.values()) item.remove();
    files.uploads.clear();
    for (const failed of form.querySelectorAll(".pending-files li.failed")) failed.remove();
  };

  // An email whose HTML shows images of its own (cid:, rewritten by the server to this site's
  // authenticated URLs; nh3 removed everything else): the HTML is the better view. The server
  // sanitised it for insertion as HTML; the plain text stays one click away.
  CY.richBody = function (m) {
    if (!m.html || !(m.html_images > 0)) return null;
    const html = el("div", { class: "msg-html" });
    html.innerHTML = m.html;
    for (const img of html.querySelectorAll("img")) {
      const src = img.getAttribute("src") || "";
      if (!/^\/attachments\/\d+\/inline$/.test(src)) img.removeAttribute("src");   // belt and braces
      img.setAttribute("referrerpolicy", "no-referrer");
    }
    return el("div", { class: "msg-body msg-rich" }, html,
      el("details", { class: "quoted" }, el("summary", {}, "Plain text"), el("div", {}, m.body)));
  };
})();
