// send.js: the Send page's recipients follow its channel: a group robot takes only mentions
// (users, WeCom members, mobiles), all optional, so the other fields are hidden and not sent. A
// form is sent once: a second click waits for the answer (the idempotency key would return the
// same message anyway).
"use strict";
(function () {
  const form = document.getElementById("send-form"), chan = document.getElementById("f-channel");
  if (!form || !chan) return;
  function follow() {
    const o = chan.selectedOptions[0], robot = !!o && o.dataset.type === "wecom_robot";
    form.querySelectorAll("[data-on]").forEach((el) => {
      el.hidden = (el.dataset.on === "wecom_robot") !== robot;
      el.querySelectorAll("input").forEach((i) => { i.disabled = el.hidden; });
    });
  }
  let sending = false;
  form.addEventListener("submit", (e) => {
    if (sending) { e.preventDefault(); return; }
    sending = true;
    document.getElementById("send-message").disabled = true;
    document.getElementById("send-state").textContent = form.dataset.sending;
  });
  // A page come back from the history may be sent again (with its key: the same message).
  window.addEventListener("pageshow", () => {
    sending = false;
    document.getElementById("send-message").disabled = !chan.options.length;
  });
  chan.addEventListener("change", follow);
  follow();
})();
