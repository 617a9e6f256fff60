// picker.js: search-as-you-type beside a field of ids. An input with data-picker ("users",
// "members", "departments", "chats") holds ids separated by commas, typed or picked; a search box
// beside it asks the REST API for the matches (as accounts.js does for one member) and offers
// them in a datalist: the one chosen, or the first on Enter, is added to the ids. data-scope names
// the select whose chosen option gives the channel (data-id) and its authenticator
// (data-authenticator) the search is about.
"use strict";
(function () {
  if (!window.wf) return;
  const q = (s) => encodeURIComponent(s);
  // SOURCES say where a kind is searched and what an item's id and name are. A channel's chats
  // are few and the API does not search them: all are listed and the datalist narrows them.
  const SOURCES = {
    users: {url: (s) => "/api/v1/users?pageSize=20&q=" + q(s), id: (x) => x.userid, name: (x) => x.name},
    members: {url: (s, c) => c.authenticator > 0 && "/api/v1/directory/members?deleted=false&pageSize=20&authenticatorId=" + c.authenticator + "&q=" + q(s),
      id: (x) => x.userid, name: (x) => x.name},
    departments: {url: (s, c) => c.authenticator > 0 && "/api/v1/directory/departments?deleted=false&pageSize=20&authenticatorId=" + c.authenticator + "&q=" + q(s),
      id: (x) => String(x.id), name: (x) => x.name},
    chats: {url: (s, c) => c.id > 0 && "/api/v1/channels/" + c.id + "/chats?pageSize=200", id: (x) => x.chatid, name: (x) => x.name},
  };
  // split reads the ids as the server does: commas (also Chinese ones), semicolons, | or spaces.
  const split = (s) => s.split(/[,，、;；|\s]+/).filter(Boolean);

  function attach(input) {
    const src = SOURCES[input.dataset.picker], scope = document.getElementById(input.dataset.scope);
    if (!src) return;
    const list = document.createElement("datalist"), search = document.createElement("input"), picked = document.createElement("p");
    list.id = input.id + "-options";
    Object.assign(search, {type: "search", id: input.id + "-search", autocomplete: "off", placeholder: input.dataset.search, className: "picker-search"});
    search.setAttribute("list", list.id);
    search.setAttribute("aria-label", input.dataset.search);
    picked.className = "help picker-picked";
    picked.id = input.id + "-picked";
    input.after(search, list, picked);
    // shown maps an offered option's text ("Sales (2)") to its id; names an id to its name.
    const shown = new Map(), names = new Map();
    // listed is the search the datalist answers.
    let timer = 0, asked = 0, listed = null;

    async function load() {
      const c = (scope && scope.selectedOptions[0] && scope.selectedOptions[0].dataset) || {}, text = search.value.trim();
      const path = src.url(text, {id: Number(c.id), authenticator: Number(c.authenticator)}), mine = ++asked;
      if (!path) { list.replaceChildren(); shown.clear(); listed = text; return; }
      const r = await window.wf.api("GET", path);
      if (mine !== asked || r.status !== 200 || !r.body || !Array.isArray(r.body.data)) return;
      shown.clear();
      listed = text;
      list.replaceChildren(...r.body.data.map((x) => {
        const id = src.id(x), name = src.name(x), o = document.createElement("option");
        o.value = name && name !== id ? name + " (" + id + ")" : id;
        shown.set(o.value, id);
        if (name) names.set(id, name);
        return o;
      }));
    }
    // showPicked names the picked ids the searches have met.
    function showPicked() {
      const known = split(input.value).filter((id) => names.has(id));
      picked.textContent = known.length ? input.dataset.picked + " " + known.map((id) => names.get(id) + " (" + id + ")").join(", ") : "";
    }
    function add(id) {
      const ids = split(input.value);
      if (!ids.includes(id)) ids.push(id);
      input.value = ids.join(", ");
      input.dispatchEvent(new Event("input", {bubbles: true}));
      search.value = "";
      showPicked();
    }
    search.addEventListener("input", () => {
      if (shown.has(search.value)) { add(shown.get(search.value)); return; }
      clearTimeout(timer);
      timer = setTimeout(load, 250);
    });
    search.addEventListener("focus", () => { if (!list.children.length) load(); });
    search.addEventListener("keydown", async (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault(); // the form is sent by its button, not by picking
      if (shown.has(search.value)) { add(shown.get(search.value)); return; }
      const text = search.value.trim();
      if (!text) return;
      // The first match of what is typed, not of an earlier search still listed.
      if (listed !== text) { clearTimeout(timer); await load(); }
      const first = list.querySelector("option");
      if (first && listed === text) add(shown.get(first.value));
    });
    // Enter's keypress would send the form (an implicit submission) when keydown's was not seen.
    search.addEventListener("keypress", (e) => { if (e.key === "Enter") e.preventDefault(); });
    input.addEventListener("input", showPicked);
    // Another channel may have another directory and other chats.
    if (scope) scope.addEventListener("change", () => { list.replaceChildren(); shown.clear(); listed = null; });
  }

  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("input[data-picker]").forEach(attach));
})();
