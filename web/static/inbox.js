// inbox.js: the sandbox inbox. The page embeds every member's messages (newest first) as JSON;
// we draw each as WeCom shows it with cards.js, and a click on a card's button submits the
// page's click form as that member. User data only ever reaches the page as textContent or
// through cards.js.
"use strict";
(function () {
  function read(id) {
    const el = document.getElementById(id);
    try { return el ? JSON.parse(el.textContent) : null; } catch (e) { return null; }
  }
  const members = read("inbox-data") || [];
  const text = read("inbox-text") || {};
  const form = document.getElementById("inbox-click");
  const lang = document.documentElement.lang || undefined;

  function el(tag, cls, content) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content !== undefined) e.textContent = content;
    return e;
  }

  // click submits a button click; selected maps a vote or select question to the chosen options.
  function click(user, task, key, selected) {
    form.elements.user.value = user;
    form.elements.task.value = task;
    form.elements.key.value = key;
    form.elements.selected.value = JSON.stringify(selected || {});
    form.submit();
  }

  function message(user, m) {
    const item = el("article", "inbox-msg" + (m.recalled ? " recalled" : ""));
    const meta = [m.msgtype, new Date(m.at).toLocaleString(lang)];
    if (m.recalled) meta.push(text.recalled);
    item.appendChild(el("p", "meta", meta.join(" · ")));
    const body = m.body || {};
    const task = typeof body.task_id === "string" ? body.task_id : "";
    // An answered card shows the text that replaced its buttons; a recalled one takes no clicks.
    const opts = {strings: text.cards, replaceName: m.replacedWith || ""};
    // Without the click form (a role that may not send) the buttons are drawn but do nothing.
    if (form && task && !m.recalled && !m.replacedWith) opts.onButton = (key, info) => click(user, task, key, info && info.selected);
    let view = null;
    if (window.wfCards && typeof window.wfCards.render === "function") {
      try { view = window.wfCards.render(m.msgtype, body, opts); } catch (e) { view = null; }
    }
    if (!(view instanceof Node)) {
      view = el("pre", "raw", JSON.stringify(body, null, 2));
      view.setAttribute("aria-label", text.raw || "");
      if (m.replacedWith) item.appendChild(el("p", "replaced", (text.replaced || "%s").replace("%s", m.replacedWith)));
    }
    item.appendChild(view);
    return item;
  }

  for (const mem of members) {
    const section = document.getElementById("inbox-" + mem.userid);
    const list = section && section.querySelector(".inbox-messages");
    if (!list) continue;
    for (const m of mem.messages || []) list.appendChild(message(mem.userid, m));
    if (!list.firstChild) list.appendChild(el("p", "meta", text.noMessages));
  }
})();
