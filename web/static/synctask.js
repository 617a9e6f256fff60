// wecomflow admin UI: live progress of a directory sync task. The page marks the task with
// data-sync-task and its values with data-field; this polls GET /api/v1/sync-tasks/{id} every
// second until the task is final and writes what it reads as text (never as HTML); the final
// summary comes from the page itself, which writes it in the page's language.
"use strict";
(function () {
  const counts = ["departments", "members", "created", "updated", "deleted", "linked"];
  const isFinal = (status) => status === "success" || status === "failed";

  function follow(box) {
    const id = box.dataset.syncTask;
    const set = (field, value) => box.querySelectorAll('[data-field="' + field + '"]').forEach((el) => {
      if (el.tagName === "PROGRESS") el.value = Number(value) || 0;
      else el.textContent = value == null ? "" : String(value);
    });
    const label = (status) => box.dataset["status" + status.charAt(0).toUpperCase() + status.slice(1)] || status;
    let failures = 0;

    // pageMessage shows the summary as the page writes it, in the page's language and with
    // WeCom's own words set as code: the API's is the server's English sentence. The nodes are
    // our own page's, parsed inert.
    async function pageMessage() {
      try {
        const res = await fetch(window.location.pathname, {credentials: "same-origin"});
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const m = doc.getElementById("sync-message");
        if (res.ok && m) box.querySelectorAll('[data-field="message"]').forEach((el) => el.replaceChildren(...Array.from(m.childNodes, (n) => document.importNode(n, true))));
      } catch (e) {
        // the API's sentence stays
      }
    }

    function show(t) {
      const status = document.getElementById("sync-status");
      set("status", label(t.status));
      if (status) status.className = "status " + t.status;
      set("progress", t.progress);
      set("progressText", (t.progress || 0) + "%");
      counts.forEach((k) => set(k, t.counts ? t.counts[k] : 0));
      set("costMs", t.costMs);
      set("attempts", t.attempts);
      set("message", t.message || "");
      if (isFinal(t.status)) pageMessage();
      box.dataset.status = t.status;
      const retry = document.getElementById("sync-retry-form");
      if (retry) retry.hidden = t.status !== "failed";
      const live = document.getElementById("sync-live");
      if (live) live.textContent = isFinal(t.status) ? "" : live.dataset.liveLabel;
    }

    async function poll() {
      let res;
      try {
        res = await wf.api("GET", "/api/v1/sync-tasks/" + encodeURIComponent(id));
      } catch (e) {
        res = {status: 0};
      }
      if (res.status === 200 && res.body && res.body.data) {
        failures = 0;
        show(res.body.data);
        if (isFinal(res.body.data.status)) return;
      } else if (res.status === 401 || res.status === 403 || res.status === 404 || ++failures > 30) {
        return; // the session ended or the task is gone: the page keeps what it showed
      }
      setTimeout(poll, 1000);
    }

    if (!isFinal(box.dataset.status)) setTimeout(poll, 1000);
  }

  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("[data-sync-task]").forEach(follow));
})();
