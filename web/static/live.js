// live.js: a page of something still under way (an execution, a message) marks an element with
// data-live (the API path to read) and data-live-key (the status and its parts' statuses when
// the page was made); every second we read the API and reload the page once that changed.
"use strict";
(function () {
  const el = document.querySelector("[data-live]");
  if (!el || !window.wf) return;
  const path = el.dataset.live;
  const parts = (d) => (d.jobs || d.requests || []).map((p) => p.status).join(",");
  async function poll() {
    let res = null;
    try { res = await window.wf.api("GET", path); } catch (e) { res = null; }
    if (res && (res.status === 401 || res.status === 403 || res.status === 404)) return;
    const d = res && res.status === 200 && res.body && res.body.data;
    if (d && d.status + "|" + parts(d) !== el.dataset.liveKey) {
      window.location.reload();
      return;
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
