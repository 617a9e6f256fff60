// wecomflow admin UI: small behaviours shared by every page. No inline scripts (the CSP forbids
// them): pages mark elements with data-* attributes and this file wires them up.
"use strict";
(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

  // random returns n characters of [A-Za-z0-9] from the browser's CSPRNG.
  function random(n) {
    const out = [];
    const buf = new Uint8Array(n * 2);
    while (out.length < n) {
      crypto.getRandomValues(buf);
      for (const b of buf) {
        if (b < 248 && out.length < n) out.push(alnum[b % 62]); // 248 = 4 × 62: no modulo bias
      }
    }
    return out.join("");
  }

  // api calls the REST API with the session cookie and the CSRF header; it resolves to
  // {status, body} and never throws on an HTTP error status.
  async function api(method, path, body) {
    // Accept-Language: the API's errors come in the page's language.
    const init = {method, headers: {"X-CSRF-Token": csrf(), "Accept-Language": document.documentElement.lang || "en"}, credentials: "same-origin"};
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    let json = null;
    try { json = await res.json(); } catch (e) { json = null; }
    return {status: res.status, body: json};
  }

  // counter shows "n / limit" under a field with data-limit, in characters as WeCom counts them.
  function counter(field) {
    const limit = Number(field.dataset.limit);
    let out = field.parentElement.querySelector(".count");
    if (!out) {
      out = document.createElement("span");
      out.className = "count";
      out.setAttribute("aria-live", "polite");
      field.insertAdjacentElement("afterend", out);
    }
    const update = () => {
      const n = Array.from(field.value).length;
      out.textContent = n + " / " + limit;
      out.classList.toggle("over", n > limit);
    };
    field.addEventListener("input", update);
    update();
  }

  // copyButton copies the text of the element its data-copy names and then says "Copied" beside
  // it for 2 s, in a live region that is there before it speaks, so screen readers announce it.
  function copyButton(b) {
    const out = document.createElement("span");
    out.className = "copied";
    out.setAttribute("role", "status");
    b.insertAdjacentElement("afterend", out);
    let timer = 0;
    b.addEventListener("click", () => {
      const text = document.getElementById(b.dataset.copy).textContent;
      if (!navigator.clipboard) return;
      navigator.clipboard.writeText(text).then(() => {
        out.textContent = document.body.dataset.copied || "";
        clearTimeout(timer);
        timer = setTimeout(() => { out.textContent = ""; }, 2000);
      }, () => {});
    });
  }

  // A POST form sends once: its second submit (a double click, an impatient Enter) is dropped
  // and its buttons are disabled until the answer replaces the page. One listener for every
  // form; a form whose own script handled the submit (preventDefault) is left to that script.
  document.addEventListener("submit", (e) => {
    const f = e.target;
    if (e.defaultPrevented || f.method !== "post") return;
    if (f.dataset.submitting) { e.preventDefault(); return; }
    f.dataset.submitting = "1";
    // Later, so the pressed button's name and value still go with the form.
    setTimeout(() => f.querySelectorAll("button[type=submit], button:not([type])").forEach((b) => { b.disabled = true; }));
  });
  // Back to a page kept in the browser's history cache: its forms can be sent again.
  window.addEventListener("pageshow", (e) => {
    if (!e.persisted) return;
    document.querySelectorAll("form[data-submitting]").forEach((f) => {
      delete f.dataset.submitting;
      f.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    });
  });

  // The header's nav folds away behind a Menu button on a narrow screen (the CSS decides when);
  // without this script it stays open.
  function collapsibleNav() {
    const header = document.querySelector("header.top"), toggle = document.getElementById("nav-toggle");
    if (!header || !toggle) return;
    header.classList.add("collapsible");
    toggle.addEventListener("click", () => {
      const open = header.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }

  // A form marked data-unsaved-of="ID" (Check connection, Sync now) acts on what is saved: when
  // the form ID has unsaved edits it asks first (the question is its data-unsaved).
  function guardUnsaved(root) {
    root.querySelectorAll("form[data-unsaved-of]").forEach((f) => {
      const edited = document.getElementById(f.dataset.unsavedOf);
      if (!edited) return;
      const mark = () => { edited.dataset.dirty = "1"; };
      edited.addEventListener("input", mark);
      edited.addEventListener("change", mark);
      f.addEventListener("submit", (e) => {
        if (edited.dataset.dirty && !window.confirm(f.dataset.unsaved)) e.preventDefault();
      });
    });
  }

  function wire(root) {
    root.querySelectorAll("[data-copy]").forEach(copyButton);
    root.querySelectorAll("[data-generate]").forEach((b) => b.addEventListener("click", () => {
      const target = document.getElementById(b.dataset.target);
      target.value = random(b.dataset.generate === "aeskey" ? 43 : 32);
      target.dispatchEvent(new Event("input"));
    }));
    root.querySelectorAll("form[data-confirm]").forEach((f) => f.addEventListener("submit", (e) => {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    }));
    root.querySelectorAll("[data-limit]").forEach(counter);
    guardUnsaved(root);
    // A new authenticator's callback URLs follow its name as it is typed, to enter in WeCom
    // before saving.
    const name = root.querySelector("#f-name");
    root.querySelectorAll("[data-callback-base]").forEach((code) => name && name.addEventListener("input", () => {
      code.textContent = code.dataset.callbackBase + name.value.trim() + code.dataset.callbackSuffix;
    }));
  }

  window.wf = {api, wire, random};
  document.addEventListener("DOMContentLoaded", () => { collapsibleNav(); wire(document); });
})();
