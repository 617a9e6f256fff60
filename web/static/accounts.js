// accounts.js: the account form's member picker. The page lists the first members of one
// authenticator's synced directory in a datalist; choosing another authenticator, or typing in a
// directory larger than that list, asks the REST API for the members that match.
"use strict";
(function () {
  const auth = document.getElementById("f-wecom-authenticatorId");
  const input = document.getElementById("f-wecom-userid");
  const list = document.getElementById("member-options");
  if (!auth || !input || !list || !window.wf) return;
  // listed is the authenticator whose members the datalist holds; complete, whether it holds all.
  let listed = list.dataset.authenticator, complete = list.dataset.complete === "true";
  let timer = 0, asked = 0;

  async function load(q) {
    const id = auth.value, mine = ++asked;
    if (!id) { list.replaceChildren(); listed = ""; return; }
    const r = await window.wf.api("GET", "/api/v1/directory/members?deleted=false&pageSize=200&authenticatorId=" +
      encodeURIComponent(id) + "&q=" + encodeURIComponent(q));
    if (mine !== asked || r.status !== 200 || !r.body || !Array.isArray(r.body.data)) return;
    list.replaceChildren(...r.body.data.map((m) => {
      const o = document.createElement("option");
      o.value = m.userid;
      o.label = m.name;
      return o;
    }));
    listed = id;
    if (!q) complete = r.body.total <= r.body.data.length;
  }

  auth.addEventListener("change", () => {
    // A userid belongs to one corp: the member of another authenticator is chosen anew.
    input.value = "";
    complete = false;
    load("");
  });
  input.addEventListener("input", () => {
    if (complete && listed === auth.value) return;
    clearTimeout(timer);
    timer = setTimeout(() => load(input.value.trim()), 250);
  });
})();
