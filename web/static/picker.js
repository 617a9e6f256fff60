// picker.js: search-as-you-type beside a field of ids. An input with data-picker ("users",
// "members", "departments", "tags", "chats", "mobiles", "emails") holds ids separated by commas,
// typed or picked (with data-single, one id: a pick replaces it); a search box beside it asks
// the REST API for the matches and offers them in a datalist: the one chosen, or the first on
// Enter, is added to the ids. What the search is about (a channel's chats, an authenticator's directory) comes from
// data-scope, the id of a select whose chosen option has data-id (the channel) and
// data-authenticator, or else from the input's own data-channel and data-authenticator. With
// data-scope-clears, choosing another option of the scope empties the field (a member of
// another directory is chosen anew). Pages whose fields are static get their pickers when the
// page loads; a page that builds its fields (the workflow editor) calls wf.picker(input, after).
"use strict";
(function () {
  if (!window.wf) return;
  const q = (s) => encodeURIComponent(s);
  // SOURCES say where a kind is searched, in which scope (the directory, the channel) its ids
  // mean something, and what an item's id and name are. A channel's chats are few and the API
  // does not search them: all are listed and the datalist narrows them. Tags are read from WeCom
  // at each search (the directory sync keeps none).
  const SOURCES = {
    users: {url: (s) => "/api/v1/users?pageSize=20&q=" + q(s), in: () => "", id: (x) => x.userid, name: (x) => x.name},
    members: {url: (s, c) => c.authenticator > 0 && "/api/v1/directory/members?deleted=false&pageSize=20&authenticatorId=" + c.authenticator + "&q=" + q(s),
      in: (c) => c.authenticator, id: (x) => x.userid, name: (x) => x.name},
    departments: {url: (s, c) => c.authenticator > 0 && "/api/v1/directory/departments?deleted=false&pageSize=20&authenticatorId=" + c.authenticator + "&q=" + q(s),
      in: (c) => c.authenticator, id: (x) => String(x.id), name: (x) => x.name},
    tags: {url: (s, c) => c.authenticator > 0 && "/api/v1/directory/tags?pageSize=20&authenticatorId=" + c.authenticator + "&q=" + q(s),
      in: (c) => c.authenticator, id: (x) => String(x.id), name: (x) => x.name},
    chats: {url: (s, c) => c.id > 0 && "/api/v1/channels/" + c.id + "/chats?pageSize=200", in: (c) => c.id, id: (x) => x.chatid, name: (x) => x.name},
    // A local user's mobile or email: WeCom finds the member by it (one without a binding).
    mobiles: {url: (s) => "/api/v1/users?pageSize=20&q=" + q(s), in: () => "", id: (x) => x.mobile, name: (x) => x.name},
    emails: {url: (s) => "/api/v1/users?pageSize=20&q=" + q(s), in: () => "", id: (x) => x.email, name: (x) => x.name},
  };
  // split reads the ids as the server does: commas (also Chinese ones), semicolons, | or spaces.
  const split = (s) => s.split(/[,，、;；|\s]+/).filter(Boolean);
  // names are the names the searches of this page have met, by kind, scope and id: a field the
  // editor draws again still names what was picked.
  const names = new Map();

  // attach gives input its picker, placed after the element after (by default the input).
  function attach(input, after) {
    const src = SOURCES[input.dataset.picker];
    if (!src || input.dataset.pickerReady) return;
    input.dataset.pickerReady = "true";
    const single = input.dataset.single !== undefined;
    const list = document.createElement("datalist"), search = document.createElement("input"), picked = document.createElement("p");
    list.id = input.id + "-options";
    Object.assign(search, {type: "search", id: input.id + "-search", autocomplete: "off", placeholder: input.dataset.search, className: "picker-search"});
    search.setAttribute("list", list.id);
    search.setAttribute("aria-label", input.dataset.search);
    search.setAttribute("aria-controls", input.id);
    picked.className = "help picker-picked";
    picked.id = input.id + "-picked";
    picked.setAttribute("aria-live", "polite");
    // Below the field and its character count (app.js's), if it has one.
    const count = input.nextElementSibling;
    (after || (count && count.classList.contains("count") ? count : input)).after(search, list, picked);
    // shown maps an offered option's text ("Sales (2)") to its id.
    const shown = new Map();
    // listed is the search (and scope) the datalist answers.
    let timer = 0, asked = 0, listed = null;

    // scope is what the search is about, read when it is made: the scope may change meanwhile.
    function scope() {
      const sel = input.dataset.scope && document.getElementById(input.dataset.scope);
      const d = sel ? (sel.selectedOptions && sel.selectedOptions[0] || {dataset: {}}).dataset
        : {id: input.dataset.channel, authenticator: input.dataset.authenticator};
      const c = {id: Number(d.id) || 0, authenticator: Number(d.authenticator) || 0};
      c.key = input.dataset.picker + "/" + src.in(c);
      return c;
    }
    async function load() {
      const c = scope(), text = search.value.trim(), path = src.url(text, c), mine = ++asked;
      if (!path) { list.replaceChildren(); shown.clear(); listed = c.key + "\n" + text; return; }
      const r = await window.wf.api("GET", path);
      if (mine !== asked || r.status !== 200 || !r.body || !Array.isArray(r.body.data)) return;
      shown.clear();
      listed = c.key + "\n" + text;
      // A user without a mobile (or email) has nothing to offer in that field.
      list.replaceChildren(...r.body.data.filter((x) => src.id(x)).map((x) => {
        const id = src.id(x), name = src.name(x), o = document.createElement("option");
        o.value = name && name !== id ? name + " (" + id + ")" : id;
        shown.set(o.value, id);
        if (name) names.set(c.key + "/" + id, name);
        return o;
      }));
    }
    // fresh says the datalist answers a search in the scope as it is now.
    const fresh = () => !!listed && listed.startsWith(scope().key + "\n");
    // showPicked names the picked ids the searches have met.
    function showPicked() {
      const key = scope().key, known = split(input.value).filter((id) => names.has(key + "/" + id));
      picked.textContent = known.length ? input.dataset.picked + " " + known.map((id) => names.get(key + "/" + id) + " (" + id + ")").join(", ") : "";
    }
    // add appends id to what the field holds, as it was typed (a variable with spaces in it stays
    // whole), or replaces it in a single field.
    function add(id) {
      const v = input.value.trim();
      if (single) input.value = id;
      else if (!split(v).includes(id)) input.value = v ? v.replace(/[\s,，、;；|]+$/, "") + ", " + id : id;
      input.dispatchEvent(new Event("input", {bubbles: true}));
      search.value = "";
      showPicked();
    }
    search.addEventListener("input", () => {
      if (shown.has(search.value) && fresh()) { add(shown.get(search.value)); return; }
      clearTimeout(timer);
      timer = setTimeout(load, 250);
    });
    search.addEventListener("focus", () => { if (!list.children.length || !fresh()) load(); });
    search.addEventListener("keydown", async (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault(); // the form is sent by its button, not by picking
      if (shown.has(search.value) && fresh()) { add(shown.get(search.value)); return; }
      const text = search.value.trim();
      if (!text) return;
      // The first match of what is typed, not of an earlier search still listed.
      const want = scope().key + "\n" + text;
      if (listed !== want) { clearTimeout(timer); await load(); }
      const first = list.querySelector("option");
      if (first && listed === want) add(shown.get(first.value));
    });
    // Enter's keypress would send the form (an implicit submission) when keydown's was not seen.
    search.addEventListener("keypress", (e) => { if (e.key === "Enter") e.preventDefault(); });
    input.addEventListener("input", showPicked);
    const sel = input.dataset.scope && document.getElementById(input.dataset.scope);
    if (sel && input.dataset.scopeClears !== undefined) {
      sel.addEventListener("change", () => {
        input.value = "";
        input.dispatchEvent(new Event("input", {bubbles: true}));
      });
    }
    // After the page that builds the field has put it (and its scope) in place.
    queueMicrotask(showPicked);
  }

  window.wf.picker = attach;
  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("input[data-picker]").forEach((el) => attach(el)));
})();
