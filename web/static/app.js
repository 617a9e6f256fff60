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
    const init = {method, headers: {"X-CSRF-Token": csrf()}, credentials: "same-origin"};
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

  function wire(root) {
    root.querySelectorAll("[data-copy]").forEach((b) => b.addEventListener("click", () => {
      const text = document.getElementById(b.dataset.copy).textContent;
      navigator.clipboard && navigator.clipboard.writeText(text);
      b.classList.add("done");
    }));
    root.querySelectorAll("[data-generate]").forEach((b) => b.addEventListener("click", () => {
      const target = document.getElementById(b.dataset.target);
      target.value = random(b.dataset.generate === "aeskey" ? 43 : 32);
      target.dispatchEvent(new Event("input"));
    }));
    root.querySelectorAll("form[data-confirm]").forEach((f) => f.addEventListener("submit", (e) => {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
    }));
    root.querySelectorAll("[data-limit]").forEach(counter);
    // A new authenticator's callback URLs follow its name as it is typed, to enter in WeCom
    // before saving.
    const name = root.querySelector("#f-name");
    root.querySelectorAll("[data-callback-base]").forEach((code) => name && name.addEventListener("input", () => {
      code.textContent = code.dataset.callbackBase + name.value.trim() + code.dataset.callbackSuffix;
    }));
  }

  window.wf = {api, wire, random};
  document.addEventListener("DOMContentLoaded", () => wire(document));
})();
