// wecomflow workflow editor. The page embeds the workflow, the names to pick from and the strings
// as JSON elements; this builds the form from them, keeps the workflow as a plain object that
// every input writes into, saves it with the REST API and previews the selected notification node
// through POST /api/v1/render. No innerHTML: every node is built with textContent.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const readJSON = (id) => { try { return JSON.parse($(id).textContent); } catch (e) { return null; } };
  let S = {};
  // t is the text of a catalogue key, with %s/%d filled in order.
  function t(key, ...args) {
    let s = S[key] != null ? S[key] : key;
    for (const a of args) s = s.replace(/%[sdv]/, String(a));
    return s;
  }
  // h builds an element: attributes (on* become listeners), then children (strings become text).
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "class") e.className = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of kids.flat(9)) if (c != null && c !== false) e.append(c);
    return e;
  }
  const btn = (id, text, label, fn, disabled) =>
    h("button", {type: "button", id, class: "small", "aria-label": label, title: label, disabled: !!disabled, onclick: fn}, text);

  // ---- the workflow and paths into it ----
  let def, channels, auths, msgtypes, cardtypes, wfId, hookBase, form;
  // recipients are a notification's recipient fields and the picker each has: {fields, pickers}.
  let recipients = {fields: [], pickers: {}};
  // readOnly: the viewer's role may not save workflows; the form shows the definition, disabled.
  let readOnly = false;
  // saved is the workflow as last loaded or saved (body() as JSON): leaving the page with
  // anything else asks first.
  let saved = "";
  let seq = 0, current = "";
  const uids = new WeakMap(), stash = new WeakMap(), openIds = new Set(), trigStash = {};
  const uid = (n) => { if (!uids.has(n)) uids.set(n, "n" + (++seq)); return uids.get(n); };
  const meta = (n) => { if (!stash.has(n)) stash.set(n, {types: {}, bodies: {}, card: {}}); return stash.get(n); };
  const KEY_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
  const NODE_TYPES = ["notification", "chat", "condition", "delay", "digest", "end"];
  const TRIGGERS = ["manual", "webhook", "schedule", "wecom_event"];
  // A webhook's auth modes and the write-only field each keeps its credential in (SPEC §10.1).
  const CREDENTIAL = {hmac: "secret", bearer: "token", basic: "password", grafana: "secret"};
  const AUTH_TYPES = Object.keys(CREDENTIAL);
  // storedAuth is the saved webhook auth (its mode, whether a credential is set): the page says
  // "set" while the mode is that one. storedLegacy: the saved workflow accepts the old signature.
  let storedAuth = {}, storedLegacy = false;
  // signSnippet is a shell sender of a signed call to hook, for hmac.
  const signSnippet = (hook, isForm) => [
    "SECRET='…'",
    isForm ? "BODY='id=42&status=paid'" : "BODY='{\"id\": 42}'",
    "TS=$(date +%s)",
    "SIG=$(printf '%s.%s' \"$TS\" \"$BODY\" | openssl dgst -sha256 -hmac \"$SECRET\" | sed 's/^.* //')",
    "curl -X POST '" + hook + "' -H 'Content-Type: " + (isForm ? "application/x-www-form-urlencoded" : "application/json") + "' \\",
    "  -H \"X-Wecomflow-Timestamp: $TS\" -H \"X-Wecomflow-Signature: sha256=$SIG\" --data-binary \"$BODY\"",
  ].join("\n");
  const INTERACTIVE = ["button_interaction", "vote_interaction", "multiple_interaction"];

  const get = (o, p) => p.reduce((x, k) => (x == null ? undefined : x[k]), o);
  const isEmpty = (v) => v === undefined || v === "" || (Array.isArray(v) && !v.length);
  // set writes v at path p of o, creating what is missing; an empty v deletes the key and then
  // every object above it that became empty (but never the top-level key, like config.textcard).
  function set(o, p, v) {
    if (isEmpty(v)) return del(o, p);
    let x = o;
    for (let i = 0; i < p.length - 1; i++) {
      if (x[p[i]] == null || typeof x[p[i]] !== "object") x[p[i]] = typeof p[i + 1] === "number" ? [] : {};
      x = x[p[i]];
    }
    x[p[p.length - 1]] = v;
  }
  function del(o, p) {
    const chain = [o];
    for (let i = 0; i < p.length - 1; i++) {
      const next = chain[i][p[i]];
      if (next == null || typeof next !== "object") return;
      chain.push(next);
    }
    delete chain[p.length - 1][p[p.length - 1]];
    for (let i = p.length - 2; i >= 1; i--) {
      const parent = chain[i], child = parent[p[i]];
      if (Array.isArray(parent) || Array.isArray(child) || Object.keys(child).length) break;
      delete parent[p[i]];
    }
  }
  // relOf writes a path as the API does: template_card.button_list[0].text
  const relOf = (p) => p.map((k, i) => (typeof k === "number" ? "[" + k + "]" : (i ? "." : "") + k)).join("");
  const idOf = (p) => p.join("-");

  // walk lists every node in run order with its position path and its branch ancestry.
  function walk(list = def.nodes, pos = "nodes", bp = [], out = []) {
    list.forEach((n, i) => {
      const p = pos + "[" + i + "]";
      out.push({n, pos: p, bp, list, i});
      if (n.type === "condition") {
        n.branches = n.branches || {};
        for (const b of ["true", "false"]) walk(n.branches[b] = n.branches[b] || [], p + ".branches." + b, bp.concat([[n, b]]), out);
      }
    });
    return out;
  }
  // prefixes are the API paths of the nodes: nodes.<key>, or the position when the key is invalid.
  function prefixes() {
    const all = walk(), count = {}, out = new Map();
    all.forEach((e) => { count[e.n.key] = (count[e.n.key] || 0) + 1; });
    all.forEach((e) => out.set(uid(e.n), {e, path: KEY_RE.test(e.n.key || "") && count[e.n.key] === 1 ? "nodes." + e.n.key : e.pos}));
    return out;
  }
  // syncPaths gives every input inside a node its API path (data-path) from the node's key.
  function syncPaths() {
    const pre = prefixes();
    form.querySelectorAll("[data-rel],[data-posrel]").forEach((el) => {
      const node = el.closest(".wf-node"), p = node && pre.get(node.id);
      if (!p) return;
      el.dataset.path = el.dataset.posrel ? p.e.pos + "." + el.dataset.posrel : p.path + (el.dataset.rel ? "." + el.dataset.rel : "");
    });
    form.querySelectorAll(".wf-node").forEach((el) => {
      const p = pre.get(el.id);
      if (p) { el.dataset.path = p.path; el.dataset.pos = p.e.pos; }
    });
  }

  // ---- controls ----
  const bytes = (s) => new TextEncoder().encode(s).length;
  function counter(c, lim, inBytes) {
    c.dataset.limit = lim;
    if (inBytes) c.dataset.unit = "bytes";
    const out = h("span", {class: "count"});
    const update = () => {
      const n = inBytes ? bytes(c.value) : Array.from(c.value).length;
      out.textContent = n + " / " + lim + " " + t(inBytes ? "wf.unit.bytes" : "wf.unit.chars");
      out.classList.toggle("over", n > lim);
    };
    c.addEventListener("input", update);
    update();
    return out;
  }
  // control is a labelled input, textarea, select or checkbox in a .field wrapper. o.set(value)
  // stores what the user enters; o.redraw re-renders the form after a change.
  function control(o) {
    let c;
    if (o.kind === "textarea") c = h("textarea", {id: o.id, rows: o.rows || 3, spellcheck: "false"});
    else if (o.kind === "select") c = h("select", {id: o.id}, o.options.map(([v, l, a]) => h("option", Object.assign({value: v}, a), l)));
    else if (o.kind === "check") c = h("input", {id: o.id, type: "checkbox"});
    else c = h("input", {id: o.id, type: o.type || "text", autocomplete: "off", inputmode: o.url ? "url" : null, placeholder: o.ph, list: o.list});
    if (o.kind === "check") c.checked = !!o.value;
    else c.value = o.value == null ? "" : typeof o.value === "object" ? JSON.stringify(o.value) : String(o.value);
    for (const k of ["rel", "path", "posrel"]) if (o[k] != null) c.dataset[k] = o[k];
    const wrap = h("div", {class: "field" + (o.kind === "check" ? " check" : "")});
    const label = h("label", {for: o.id}, o.label, o.api ? [" ", h("code", {}, o.api)] : null);
    const row = o.vars ? h("div", {class: "wf-row"}, c, varButton(c, o.vars)) : c;
    if (o.kind === "check") wrap.append(c, label);
    else wrap.append(label, row);
    if (o.picker) picker(c, o.picker, row);
    if (o.limit) wrap.append(counter(c, o.limit, o.bytes));
    if (o.help) {
      wrap.append(h("p", {class: "help", id: o.id + "-help"}, o.help));
      c.setAttribute("aria-describedby", o.id + "-help");
    }
    c.addEventListener(o.kind === "select" || o.kind === "check" ? "change" : "input", () => {
      wrap.classList.remove("invalid");
      c.removeAttribute("aria-invalid");
      wrap.querySelectorAll(":scope > .field-error").forEach((x) => x.remove());
      o.set(o.kind === "check" ? c.checked : c.value);
      if (o.redraw) render(o.id);
    });
    return wrap;
  }

  // picker gives input c picker.js's search of the directory, the local users or a channel's
  // chats (p: kind, scope, single), placed after row.
  function picker(c, p, row) {
    if (!window.wf || !window.wf.picker) return;
    Object.assign(c.dataset, {picker: p.kind, search: t("send.pick." + p.kind), picked: t("send.picked")});
    if (p.scope) c.dataset.scope = p.scope;
    if (p.single) c.dataset.single = "";
    window.wf.picker(c, row);
  }

  // ---- the variable picker ----
  let pop = null;
  function closeVars() {
    if (!pop) return;
    pop.el.remove();
    pop.btn.setAttribute("aria-expanded", "false");
    pop = null;
  }
  function varButton(c, mode) {
    const b = h("button", {type: "button", class: "small wf-varbtn", id: c.id + "-vars", "aria-label": t("wf.var.insert"),
      title: t("wf.var.insert"), "aria-expanded": "false"}, "{x}");
    b.addEventListener("click", () => {
      const again = pop && pop.btn === b;
      closeVars();
      if (again) return;
      const box = h("div", {class: "wf-vars", role: "group", "aria-label": t("wf.var.insert")});
      for (const [group, items] of variables(c)) {
        if (!items.length) continue;
        box.append(h("p", {class: "wf-vars-group"}, group));
        for (const v of items) box.append(h("button", {type: "button", class: "small", onclick: () => {
          insert(c, mode === "x" ? v : "{{" + v + "}}");
          closeVars();
          c.focus();
        }}, v));
      }
      box.addEventListener("keydown", (e) => { if (e.key === "Escape") { closeVars(); b.focus(); } });
      b.closest(".field").append(box);
      b.setAttribute("aria-expanded", "true");
      pop = {el: box, btn: b};
      const first = box.querySelector("button");
      if (first) first.focus();
    });
    return b;
  }
  function insert(c, text) {
    const s = c.selectionStart != null ? c.selectionStart : c.value.length, e = c.selectionEnd != null ? c.selectionEnd : s;
    c.value = c.value.slice(0, s) + text + c.value.slice(e);
    try { c.setSelectionRange(s + text.length, s + text.length); } catch (x) { /* not a text field */ }
    c.dispatchEvent(new Event("input", {bubbles: true}));
  }
  // dataPaths lists the paths of the sample data, for $context.data.…
  function dataPaths(v, p, out, depth) {
    if (out.length > 40 || depth > 4 || v == null || typeof v !== "object") return out;
    if (Array.isArray(v)) {
      if (v.length) { out.push(p + "[0]"); dataPaths(v[0], p + "[0]", out, depth + 1); }
      return out;
    }
    for (const k of Object.keys(v)) {
      const q = p + (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? "." + k : "[" + JSON.stringify(k) + "]");
      out.push(q);
      dataPaths(v[k], q, out, depth + 1);
    }
    return out;
  }
  const JOB_FIELDS = {notification: ["messageId", "status", "msgid", "recipients.resolved"], condition: ["value"], delay: ["until"], chat: ["chatid"],
    digest: ["key", "count", "items"]};
  // variables are the groups the picker offers at control c: the trigger's $context, $system, and
  // the results of the nodes that run before c's node (not those of the other branch).
  function variables(c) {
    let data = null;
    try { data = JSON.parse($("sample-data").value); } catch (e) { data = null; }
    const ctx = ["$context.data"].concat(dataPaths(data, "$context.data", [], 0));
    const tt = def.trigger && def.trigger.type;
    if (tt === "webhook") ctx.push("$context.headers[\"Content-Type\"]", "$context.query");
    if (tt === "schedule") ctx.push("$context.date");
    const groups = [[t("wf.var.context"), ctx], [t("wf.var.system"), ["$system.now", "$system.date", "$system.timestamp"]]];
    const node = c.closest(".wf-node");
    if (!node) return groups;
    const all = walk(), at = all.findIndex((e) => uid(e.n) === node.id);
    if (at < 0) return groups;
    const mine = all[at].bp;
    for (const e of all.slice(0, at)) {
      if (e.bp.some(([cond, b]) => mine.some(([c2, b2]) => c2 === cond && b2 !== b))) continue;
      const f = (JOB_FIELDS[e.n.type] || []).slice();
      if (e.n.type === "notification" && e.n.config.waitForResponse) f.push("response.eventKey", "response.userid", "response.selectedItems", "response.at");
      if (f.length && e.n.key) groups.push([t("wf.var.jobs", e.n.key), f.map((x) => "$jobs." + e.n.key + "." + x)]);
    }
    return groups;
  }

  // ---- WeCom message bodies: every field, with the limits of plugin/wecom ----
  const str = (k, lim, inBytes) => ({k, ty: "s", lim, bytes: inBytes});
  const txt = (k, lim, inBytes) => ({k, ty: "t", lim, bytes: inBytes});
  const url = (k) => ({k, ty: "s", lim: 2048, bytes: 1, url: 1});
  const en = (k, opts, set) => ({k, ty: "e", opts, set});
  const bool = (k) => ({k, ty: "b"});
  const obj = (k, fields) => ({k, ty: "o", fields});
  const list = (k, fields, max) => ({k, ty: "l", fields, max});
  const link = (types) => [en("type", types, "link"), url("url"), str("appid"), str("pagepath")];
  const options = (max, extra) => list("option_list", [str("id"), str("text")].concat(extra || []), max);
  const MEDIA = {k: "", ty: "m"};
  const BODY = {
    text: [txt("content", 2048, 1)],
    markdown: [{k: "content", ty: "t", lim: 2048, bytes: 1, rows: 8}],
    // A group robot's; its markdown takes 4096 bytes.
    markdown_v2: [{k: "content", ty: "t", lim: 4096, bytes: 1, rows: 8}],
    image: [MEDIA], voice: [MEDIA], file: [MEDIA],
    video: [MEDIA, str("title", 128, 1), txt("description", 512, 1)],
    textcard: [str("title", 128), txt("description", 512), url("url"), str("btntxt", 4)],
    news: [list("articles", [str("title", 128, 1), txt("description", 512, 1), url("url"), url("picurl"), str("appid"), str("pagepath")], 8)],
    mpnews: [list("articles", [str("title"), str("thumb_media_id"), str("author"), url("content_source_url"),
      {k: "content", ty: "t", lim: 666 * 1024, bytes: 1, rows: 6}, txt("digest")], 8)],
    miniprogram_notice: [str("appid"), str("page"), str("title", 12), txt("description"), bool("emphasis_first_item"),
      list("content_item", [str("key", 10), str("value", 30)], 10)],
  };
  const CARD = {
    source: obj("source", [url("icon_url"), str("desc", 20), en("desc_color", [0, 1, 2, 3], "color")]),
    task_id: str("task_id", 128, 1),
    main_title: obj("main_title", [str("title"), str("desc")]),
    action_menu: obj("action_menu", [str("desc"), list("action_list", [str("text"), str("key")], 3)]),
    quote_area: obj("quote_area", link([0, 1, 2]).concat([str("title"), txt("quote_text")])),
    emphasis_content: obj("emphasis_content", [str("title"), str("desc")]),
    sub_title_text: txt("sub_title_text"),
    horizontal_content_list: list("horizontal_content_list", [en("type", [0, 1, 2, 3], "hz"), str("keyname"), str("value"),
      url("url"), str("media_id"), str("userid")], 6),
    jump_list: list("jump_list", link([0, 1, 2]).concat([str("title")]), 3),
    card_action: obj("card_action", link([1, 2])),
    card_image: obj("card_image", [url("url"), {k: "aspect_ratio", ty: "n", min: 1.3, max: 2.25}]),
    image_text_area: obj("image_text_area", link([0, 1, 2]).concat([str("title"), str("desc"), url("image_url")])),
    vertical_content_list: list("vertical_content_list", [str("title"), str("desc")], 4),
    button_selection: obj("button_selection", [str("question_key"), str("title"), str("selected_id"), options(10)]),
    button_list: list("button_list", [str("text", 10), en("style", [1, 2, 3, 4], "style"), str("key"), en("type", [0, 1], "btn"), url("url")], 6),
    checkbox: obj("checkbox", [str("question_key"), en("mode", [0, 1], "mode"), options(20, [bool("is_checked")])]),
    select_list: list("select_list", [str("question_key"), str("title"), str("selected_id"), options(10)], 3),
    submit_button: obj("submit_button", [str("text"), str("key")]),
  };
  // CARD_FIELDS is cardFields of plugin/wecom/card.go; CARD_OPEN the parts each type requires.
  const COMMON = ["source", "task_id", "main_title"];
  const CARD_FIELDS = {
    text_notice: ["action_menu", "quote_area", "emphasis_content", "sub_title_text", "horizontal_content_list", "jump_list", "card_action"],
    news_notice: ["action_menu", "quote_area", "image_text_area", "card_image", "vertical_content_list", "horizontal_content_list", "jump_list", "card_action"],
    button_interaction: ["action_menu", "quote_area", "sub_title_text", "horizontal_content_list", "card_action", "button_selection", "button_list"],
    vote_interaction: ["checkbox", "submit_button"],
    multiple_interaction: ["select_list", "submit_button"],
  };
  const CARD_OPEN = {text_notice: ["main_title", "card_action"], news_notice: ["main_title", "card_action", "card_image"],
    button_interaction: ["main_title"], vote_interaction: ["checkbox", "submit_button"], multiple_interaction: ["submit_button"]};
  const CARD_DEFAULT = {button_interaction: {button_list: [{}]}, vote_interaction: {checkbox: {option_list: [{}, {}]}, submit_button: {}},
    multiple_interaction: {select_list: [{option_list: [{}, {}]}], submit_button: {}}};

  const fieldLabel = (k) => (S["wf.f." + k] != null ? t("wf.f." + k) : k);
  const enumLabel = (set, v) => v + " · " + t("wf.enum." + set + "." + v);

  // fieldFor builds the control of schema field f at path p (under the node's config).
  function fieldFor(node, base, f, open) {
    const cfg = node.config, u = uid(node), p = base.concat(f.k), rel = relOf(p), id = u + "-" + idOf(p);
    const common = {id, label: fieldLabel(f.k), api: f.k, rel: "config." + rel};
    switch (f.ty) {
      case "s":
      case "t":
        return control(Object.assign(common, {kind: f.ty === "t" ? "textarea" : "input", rows: f.rows, url: f.url, value: get(cfg, p),
          limit: f.lim, bytes: f.bytes, vars: "t", set: (v) => set(cfg, p, v)}));
      case "e":
        return control(Object.assign(common, {kind: "select", value: get(cfg, p) == null ? "" : get(cfg, p),
          options: [["", t("wf.enum.unset")]].concat(f.opts.map((v) => [String(v), enumLabel(f.set, v)])),
          set: (v) => set(cfg, p, v === "" ? undefined : Number(v))}));
      case "b":
        return control(Object.assign(common, {kind: "check", value: get(cfg, p) === true, set: (v) => set(cfg, p, v ? true : undefined)}));
      case "n":
        return control(Object.assign(common, {type: "number", value: get(cfg, p), help: t("wf.range", f.min, f.max),
          set: (v) => set(cfg, p, v === "" || isNaN(Number(v)) ? undefined : Number(v))}));
      case "m":
        return mediaFields(node, base);
      case "o": {
        const d = h("details", {class: "wf-group", id}, h("summary", {}, fieldLabel(f.k), " ", h("code", {}, f.k)));
        d.dataset.rel = "config." + rel;
        d.open = openIds.has(id) || get(cfg, p) != null || !!open;
        d.addEventListener("toggle", () => (d.open ? openIds.add(id) : openIds.delete(id)));
        for (const sub of f.fields) d.append(fieldFor(node, p, sub));
        return d;
      }
      case "l": {
        const arr = get(cfg, p) || [];
        const fs = h("fieldset", {class: "wf-list", id}, h("legend", {}, fieldLabel(f.k), " ", h("code", {}, f.k), " ",
          h("span", {class: "count" + (arr.length > f.max ? " over" : "")}, arr.length + " / " + f.max)));
        fs.dataset.rel = "config." + rel;
        arr.forEach((item, i) => {
          const ip = p.concat(i), iid = u + "-" + idOf(ip), n = i + 1;
          const box = h("div", {class: "wf-item", id: iid}, h("div", {class: "wf-item-bar"}, h("span", {}, t("wf.list.item", n)),
            btn(iid + "-up", "↑", t("wf.list.up", n), () => { arr.splice(i - 1, 0, arr.splice(i, 1)[0]); render(iid.replace(/-\d+$/, "-" + (i - 1)) + "-up"); }, i === 0),
            btn(iid + "-down", "↓", t("wf.list.down", n), () => { arr.splice(i + 1, 0, arr.splice(i, 1)[0]); render(iid.replace(/-\d+$/, "-" + (i + 1)) + "-down"); }, i === arr.length - 1),
            btn(iid + "-remove", "✕", t("wf.list.remove", n), () => { arr.splice(i, 1); if (!arr.length) del(cfg, p); render(id + "-add"); })));
          box.dataset.rel = "config." + relOf(ip);
          for (const sub of f.fields) box.append(fieldFor(node, ip, sub));
          fs.append(box);
        });
        fs.append(btn(id + "-add", "+ " + t("wf.list.add"), null, () => {
          const a = get(cfg, p) || [];
          a.push({});
          set(cfg, p, a);
          render(id + "-" + (a.length - 1) + "-" + f.fields[0].k);
        }, arr.length >= f.max));
        return fs;
      }
    }
    return null;
  }
  // mediaFields is the media of image, voice, video and file: a media_id, or media.url / media.id.
  function mediaFields(node, base) {
    const cfg = node.config, u = uid(node), b = get(cfg, base) || {}, st = meta(node);
    const src = b.media ? (b.media.url != null ? "url" : "id") : b.media_id != null ? "media_id" : st.media || "media_id";
    const path = src === "media_id" ? base.concat("media_id") : base.concat("media", src);
    const box = h("div", {class: "wf-media"});
    box.append(control({id: u + "-" + idOf(base) + "-source", label: t("wf.media.source"), kind: "select", value: src,
      options: ["media_id", "url", "id"].map((v) => [v, t("wf.media." + v)]), redraw: true, set: (v) => {
        const val = get(cfg, path);
        del(cfg, base.concat("media_id"));
        del(cfg, base.concat("media"));
        st.media = v;
        set(cfg, v === "media_id" ? base.concat("media_id") : base.concat("media", v), val);
      }}));
    box.append(control({id: u + "-" + idOf(base) + "-media", label: t("wf.media." + src), api: relOf(path.slice(1)), rel: "config." + relOf(path),
      value: get(cfg, path), url: src === "url", vars: "t", limit: src === "url" ? 2048 : null, bytes: 1, set: (v) => set(cfg, path, v)}));
    return box;
  }
  function cardForm(node, box) {
    const cfg = node.config, u = uid(node), st = meta(node);
    const c = cfg.template_card = cfg.template_card || {card_type: "text_notice"};
    box.append(control({id: u + "-template_card-card_type", label: t("wf.f.card_type"), api: "card_type", kind: "select",
      rel: "config.template_card.card_type", value: c.card_type || "", redraw: true,
      options: cardtypes.map((v) => [v, t("wf.card." + v)]), set: (v) => {
        // Parts the new type does not read are put aside (WeCom would ignore them), and come back
        // when the type is switched back.
        st.card[c.card_type] = {};
        for (const k of Object.keys(c)) if (k !== "card_type" && !COMMON.includes(k) && !CARD_FIELDS[v].includes(k)) {
          st.card[c.card_type][k] = c[k];
          delete c[k];
        }
        c.card_type = v;
        Object.assign(c, JSON.parse(JSON.stringify(CARD_DEFAULT[v] || {})), st.card[v] || {});
        fixWaitForResponse(node);
      }}));
    const open = CARD_OPEN[c.card_type] || [];
    for (const k of COMMON.concat(CARD_FIELDS[c.card_type] || [])) box.append(fieldFor(node, ["template_card"], CARD[k], open.includes(k)));
  }
  const interactive = (cfg) => cfg.msgtype === "template_card" && cfg.template_card && INTERACTIVE.includes(cfg.template_card.card_type);
  function fixWaitForResponse(node) {
    const cfg = node.config;
    if (!interactive(cfg) && cfg.waitForResponse) { meta(node).wfr = cfg.waitForResponse; delete cfg.waitForResponse; }
  }

  // ---- nodes ----
  function newKey(base) {
    const keys = new Set(walk().map((e) => e.n.key));
    let i = 1;
    while (keys.has(base + i)) i++;
    return base + i;
  }
  function defaultConfig(type) {
    switch (type) {
      case "notification": return {channel: channels.length ? channels[0].name : "", to: {}, msgtype: "text", text: {}};
      case "condition": return {expression: ""};
      case "delay": return {duration: "10m"};
      case "chat": return {channel: appChannels().length ? appChannels()[0].name : "", users: []};
      case "digest": return {window: "5m", key: "", maxItems: 50};
      default: return {status: "resolved"};
    }
  }
  function newNode(type) {
    const n = {key: newKey({notification: "notify", chat: "chat", condition: "check", delay: "wait", digest: "batch", end: "stop"}[type]), type,
      config: defaultConfig(type)};
    if (type === "condition") n.branches = {true: [], false: []};
    return n;
  }
  function addControls(list, id, label) {
    const sel = h("select", {id: id + "-type"}, NODE_TYPES.map((ty) => h("option", {value: ty}, t("wf.node." + ty))));
    return h("div", {class: "wf-add"}, h("label", {for: id + "-type"}, label), sel,
      h("button", {type: "button", id, onclick: () => {
        const n = newNode(sel.value);
        list.push(n);
        current = n.type === "notification" ? uid(n) : current;
        render(uid(n) + "-key");
      }}, "+ " + t("wf.node.add")));
  }
  function nodeList(list, id, label) {
    const ol = h("ol", {class: "wf-nodes"});
    if (!list.length) ol.append(h("li", {class: "wf-empty help"}, t("wf.nodes.empty")));
    list.forEach((n, i) => ol.append(nodeEl(n, list, i)));
    return [ol, addControls(list, id, label)];
  }
  function nodeEl(n, list, i) {
    const u = uid(n), cfg = n.config = n.config || {};
    const li = h("li", {class: "wf-node wf-node-" + n.type, id: u});
    const move = (d) => { list.splice(i + d, 0, list.splice(i, 1)[0]); render(u + (d < 0 ? "-up" : "-down")); };
    li.append(h("div", {class: "wf-node-head"},
      h("span", {class: "wf-badge"}, t("wf.node." + n.type)), h("strong", {class: "wf-node-key", id: u + "-name"}, n.key || "?"),
      h("span", {class: "wf-tools"},
        btn(u + "-up", "↑", t("wf.node.up", n.key), () => move(-1), i === 0),
        btn(u + "-down", "↓", t("wf.node.down", n.key), () => move(1), i === list.length - 1),
        btn(u + "-delete", "✕", t("wf.node.delete", n.key), () => {
          if (!window.confirm(t("wf.node.confirmDelete", n.key))) return;
          list.splice(i, 1);
          render(list.length ? uid(list[Math.min(i, list.length - 1)]) + "-key" : "add-node");
        }))));
    const row = h("div", {class: "wf-cols"});
    row.append(control({id: u + "-key", label: t("wf.node.key"), posrel: "key", value: n.key, help: t("wf.node.key.help"), set: (v) => {
      n.key = v.trim();
      $(u + "-name").textContent = n.key || "?";
      syncPaths();
      fillPreviewNodes();
    }}));
    row.append(control({id: u + "-title", label: t("wf.node.title"), rel: "title", value: n.title, set: (v) => set(n, ["title"], v)}));
    row.append(control({id: u + "-type", label: t("wf.node.type"), rel: "type", kind: "select", value: n.type, redraw: true,
      options: NODE_TYPES.map((ty) => [ty, t("wf.node." + ty)]), set: (v) => {
        const st = meta(n);
        st.types[n.type] = {config: n.config, branches: n.branches};
        const back = st.types[v];
        n.type = v;
        n.config = back ? back.config : defaultConfig(v);
        if (v === "condition") n.branches = (back && back.branches) || {true: [], false: []};
        else delete n.branches;
      }}));
    li.append(row);
    const box = h("div", {class: "wf-config"});
    box.dataset.rel = "config";
    li.append(box);
    switch (n.type) {
      case "notification": notificationForm(n, box); break;
      case "chat": chatForm(n, box); break;
      case "condition":
        box.append(control({id: u + "-expression", label: t("wf.cond.expression"), rel: "config.expression", value: cfg.expression,
          vars: "x", help: t("wf.cond.expression.help"), set: (v) => set(cfg, ["expression"], v)}));
        n.branches = n.branches || {};
        for (const b of ["true", "false"]) {
          const sec = h("section", {class: "wf-branch wf-branch-" + b, "aria-label": t("wf.branch." + b, n.key)},
            h("h4", {}, t("wf.branch." + b, n.key)), nodeList(n.branches[b] = n.branches[b] || [], u + "-add-" + b, t("wf.node.addType")));
          sec.dataset.rel = "branches." + b;
          li.append(sec);
        }
        break;
      case "delay":
        box.append(control({id: u + "-duration", label: t("wf.delay.duration"), rel: "config.duration", value: cfg.duration, vars: "t",
          help: t("wf.delay.duration.help"), set: (v) => set(cfg, ["duration"], v)}));
        break;
      case "digest":
        box.append(control({id: u + "-window", label: t("wf.digest.window"), rel: "config.window", value: cfg.window,
          help: t("wf.digest.window.help"), set: (v) => set(cfg, ["window"], v)}));
        box.append(control({id: u + "-dkey", label: t("wf.digest.key"), rel: "config.key", value: cfg.key, vars: "t",
          help: t("wf.digest.key.help"), set: (v) => set(cfg, ["key"], v)}));
        box.append(control({id: u + "-maxItems", label: t("wf.digest.maxItems"), rel: "config.maxItems", type: "number", value: cfg.maxItems,
          help: t("wf.digest.maxItems.help"), set: (v) => set(cfg, ["maxItems"], v === "" || isNaN(Number(v)) ? undefined : Number(v))}));
        break;
      case "end":
        box.append(control({id: u + "-status", label: t("wf.end.status"), rel: "config.status", kind: "select", value: cfg.status || "resolved",
          options: ["resolved", "failed"].map((v) => [v, t("wf.end." + v)]), set: (v) => { cfg.status = v; }}));
        break;
    }
    return li;
  }
  // splitList reads "a, b" (commas or new lines, not inside {{ }}) as a list; ids become numbers.
  function splitList(s, numeric) {
    const out = [];
    let cur = "", depth = 0;
    for (let i = 0; i < s.length; i++) {
      if (s.startsWith("{{", i)) depth++;
      if (s.startsWith("}}", i)) depth = Math.max(0, depth - 1);
      if (!depth && (s[i] === "," || s[i] === "\n")) { out.push(cur); cur = ""; } else cur += s[i];
    }
    out.push(cur);
    return out.map((x) => x.trim()).filter(Boolean).map((x) => (numeric && /^[1-9]\d{0,15}$/.test(x) ? Number(x) : x));
  }
  const listText = (v) => (Array.isArray(v) ? v.join(", ") : v == null ? "" : String(v));
  // Chats exist on app (wecom) channels only, not on robots.
  const appChannels = () => channels.filter((c) => c.type === "wecom");
  // chatForm edits a chat node: it creates an app group chat; later nodes send to $jobs.<key>.chatid.
  function chatForm(n, box) {
    const cfg = n.config, u = uid(n);
    const names = appChannels().map((c) => [c.name, c.title && c.title !== c.name ? c.name + " — " + c.title : c.name]);
    if (cfg.channel && !names.some((c) => c[0] === cfg.channel)) names.push([cfg.channel, cfg.channel]);
    box.append(control({id: u + "-channel", label: t("wf.n.channel"), rel: "config.channel", kind: "select", value: cfg.channel || "",
      options: [["", t("wf.n.channel.choose")]].concat(names), help: t("wf.chat.channel.help"), set: (v) => set(cfg, ["channel"], v)}));
    for (const k of ["name", "owner", "chatid"]) {
      box.append(control({id: u + "-chat-" + k, label: t("wf.chat." + k), rel: "config." + k, value: cfg[k], vars: "t",
        help: t("wf.chat." + k + ".help"), picker: k === "owner" ? {kind: "users", single: true} : null, set: (v) => set(cfg, [k], v || undefined)}));
    }
    box.append(control({id: u + "-chat-users", label: t("wf.chat.users"), rel: "config.users", value: listText(cfg.users), vars: "t",
      help: t("wf.chat.users.help"), picker: {kind: "users"}, set: (v) => set(cfg, ["users"], splitList(v, false))}));
  }
  // switchMsgtype gives n the body of msgtype v: the one it had before, or a blank one; the body
  // of the old type is put aside for a switch back.
  function switchMsgtype(n, v) {
    const cfg = n.config, st = meta(n);
    if (cfg.msgtype && cfg[cfg.msgtype]) st.bodies[cfg.msgtype] = cfg[cfg.msgtype];
    delete cfg[cfg.msgtype];
    cfg.msgtype = v;
    cfg[v] = st.bodies[v] || (v === "news" || v === "mpnews" ? {articles: [{}]} : v === "template_card" ? {card_type: "text_notice"} : {});
    fixWaitForResponse(n);
  }
  // messageForm is the msgtype and its body form: a notification node's, and a saved template's.
  function messageForm(n, box) {
    const cfg = n.config, u = uid(n);
    box.append(control({id: u + "-msgtype", label: t("wf.n.msgtype"), rel: "config.msgtype", kind: "select", value: cfg.msgtype || "", redraw: true,
      options: msgtypes.map((m) => [m, t("wf.msg." + m)]), set: (v) => switchMsgtype(n, v)}));
    const body = h("fieldset", {class: "wf-body"}, h("legend", {}, t("wf.n.body"), " ", h("code", {}, cfg.msgtype || "")));
    body.dataset.rel = "config." + (cfg.msgtype || "msgtype");
    if (cfg.msgtype === "template_card") cardForm(n, body);
    else if (BODY[cfg.msgtype]) {
      cfg[cfg.msgtype] = cfg[cfg.msgtype] || {};
      for (const f of BODY[cfg.msgtype]) body.append(fieldFor(n, [cfg.msgtype], f, true));
    }
    box.append(body);
  }
  function notificationForm(n, box) {
    const cfg = n.config, u = uid(n);
    // A channel's option says which channel and directory the recipients' pickers search.
    const names = channels.map((c) => [c.name, c.title && c.title !== c.name ? c.name + " — " + c.title : c.name,
      {"data-id": c.id, "data-authenticator": c.authenticatorId}]);
    if (cfg.channel && !channels.some((c) => c.name === cfg.channel)) names.push([cfg.channel, cfg.channel]);
    box.append(control({id: u + "-channel", label: t("wf.n.channel"), rel: "config.channel", kind: "select", value: cfg.channel || "",
      options: [["", t("wf.n.channel.choose")]].concat(names), redraw: true, set: (v) => set(cfg, ["channel"], v)}));
    if (!channels.length) box.append(h("p", {class: "help"}, t("wf.n.channel.none"), " ", h("a", {href: "/ui/channels/new"}, t("wf.n.channel.create"))));
    // A group robot takes mentions only, as on the Send page: the other fields are left out unless
    // they hold something, which saving then refuses on the field.
    const robot = channels.some((c) => c.name === cfg.channel && c.type === "wecom_robot");
    const to = h("fieldset", {class: "wf-to"}, h("legend", {}, t("wf.n.to")), h("p", {class: "help"}, t(robot ? "send.to.robotHelp" : "wf.n.to.help")));
    to.dataset.rel = "config.to";
    // The fields and pickers of the Send page's recipients (web/send.go).
    for (const k of recipients.fields) {
      if (robot && !(recipients.mentions || {})[k] && !listText(get(cfg, ["to", k]))) continue;
      const numeric = k === "departments" || k === "tags", kind = recipients.pickers[k];
      to.append(control({id: u + "-to-" + k, label: t("send.to." + k), api: k, rel: "config.to." + k, value: listText(get(cfg, ["to", k])), vars: "t",
        help: t("send.help." + k), picker: kind ? {kind, scope: u + "-channel"} : null, set: (v) => set(cfg, ["to", k], splitList(v, numeric))}));
    }
    to.append(control({id: u + "-to-all", label: t("wf.n.to.all"), rel: "config.to.all", kind: "check", value: get(cfg, ["to", "all"]) === true,
      set: (v) => set(cfg, ["to", "all"], v ? true : undefined)}));
    const linked = h("details", {class: "wf-group", id: u + "-to-linked"}, h("summary", {}, t("wf.n.to.linked")));
    linked.open = !!get(cfg, ["to", "linked"]) || openIds.has(u + "-to-linked");
    linked.addEventListener("toggle", () => (linked.open ? openIds.add(linked.id) : openIds.delete(linked.id)));
    linked.dataset.rel = "config.to.linked";
    for (const k of ["users", "departments"]) {
      linked.append(control({id: u + "-to-linked-" + k, label: t("wf.n.to.linked." + k), rel: "config.to.linked." + k, vars: "t",
        value: listText(get(cfg, ["to", "linked", k])), set: (v) => set(cfg, ["to", "linked", k], splitList(v, false))}));
    }
    if (!robot || get(cfg, ["to", "linked"])) to.append(linked);
    box.append(to);
    messageForm(n, box);
    const opts = h("fieldset", {class: "wf-opts"}, h("legend", {}, t("wf.n.options")));
    opts.append(control({id: u + "-waitForDelivery", label: t("wf.n.waitForDelivery"), rel: "config.waitForDelivery", kind: "check",
      value: cfg.waitForDelivery !== false, help: t("wf.n.waitForDelivery.help"), set: (v) => set(cfg, ["waitForDelivery"], v ? undefined : false)}));
    opts.append(control({id: u + "-ignoreFail", label: t("wf.n.ignoreFail"), rel: "config.ignoreFail", kind: "check",
      value: cfg.ignoreFail === true, help: t("wf.n.ignoreFail.help"), set: (v) => set(cfg, ["ignoreFail"], v ? true : undefined)}));
    if (interactive(cfg) || cfg.waitForResponse) {
      const w = cfg.waitForResponse;
      opts.append(control({id: u + "-waitForResponse", label: t("wf.n.waitForResponse"), rel: "config.waitForResponse", kind: "check",
        value: !!w, help: t("wf.n.waitForResponse.help"), redraw: true, set: (v) => {
          if (v) cfg.waitForResponse = meta(n).wfr || {timeout: "24h"};
          else { meta(n).wfr = cfg.waitForResponse; delete cfg.waitForResponse; }
        }}));
      if (w) {
        opts.append(control({id: u + "-waitForResponse-timeout", label: t("wf.n.wfr.timeout"), api: "timeout", rel: "config.waitForResponse.timeout",
          value: w.timeout, help: t("wf.n.wfr.timeout.help"), set: (v) => set(w, ["timeout"], v)}));
        opts.append(control({id: u + "-waitForResponse-replaceName", label: t("wf.n.wfr.replaceName"), api: "replaceName",
          rel: "config.waitForResponse.replaceName", value: w.replaceName, limit: 10, help: t("wf.n.wfr.replaceName.help"),
          set: (v) => set(w, ["replaceName"], v)}));
        remindFields(n, w, u, opts);
      }
    }
    box.append(opts);
  }

  // The reminders of a card waiting for a response (waitForResponse.remind): off by default.
  function remindFields(n, w, u, opts) {
    const r = w.remind;
    opts.append(control({id: u + "-remind", label: t("wf.n.wfr.remind"), rel: "config.waitForResponse.remind", kind: "check",
      value: !!r, help: t("wf.n.wfr.remind.help"), redraw: true, set: (v) => {
        if (v) w.remind = meta(n).remind || {every: "30m", times: 3, text: {content: ""}};
        else { meta(n).remind = w.remind; delete w.remind; }
      }}));
    if (!r) return;
    opts.append(control({id: u + "-remind-every", label: t("wf.n.wfr.remind.every"), api: "every", rel: "config.waitForResponse.remind.every",
      value: r.every, help: t("wf.n.wfr.remind.every.help"), set: (v) => set(r, ["every"], v.trim())}));
    opts.append(control({id: u + "-remind-times", label: t("wf.n.wfr.remind.times"), api: "times", rel: "config.waitForResponse.remind.times",
      type: "number", value: r.times, help: t("wf.range", 1, 10), set: (v) => set(r, ["times"], v === "" || isNaN(Number(v)) ? undefined : Number(v))}));
    opts.append(control({id: u + "-remind-text", label: t("wf.n.wfr.remind.text"), api: "text.content", rel: "config.waitForResponse.remind.text.content",
      kind: "textarea", value: r.text && r.text.content, vars: "t", help: t("wf.n.wfr.remind.text.help"),
      set: (v) => set(r, ["text", "content"], v)}));
  }

  // ---- the workflow's own fields and its trigger ----
  function basics() {
    const fs = h("fieldset", {}, h("legend", {}, t("wf.basics")));
    fs.append(control({id: "wf-key", label: t("wf.key"), path: "key", value: def.key, help: t("wf.key.help"), set: (v) => {
      def.key = v.trim();
      const out = $("wf-webhook-url"), snippet = $("wf-sign-snippet");
      if (out) out.textContent = hookBase + (def.key || "…");
      if (snippet) snippet.textContent = signSnippet(out.textContent, def.trigger.config.format === "form");
    }}));
    fs.append(control({id: "wf-title", label: t("wf.title"), path: "title", value: def.title, limit: 255, set: (v) => { def.title = v; }}));
    fs.append(control({id: "wf-enabled", label: t("wf.enabled"), path: "enabled", kind: "check", value: def.enabled !== false,
      help: t("wf.enabled.help"), set: (v) => { def.enabled = v; }}));
    fs.append(control({id: "wf-timeout", label: t("wf.timeout"), path: "timeout", value: def.timeout, ph: "72h",
      help: t("wf.timeout.help"), set: (v) => { def.timeout = v.trim(); }}));
    return fs;
  }
  let triggerDataError = "";
  function triggerSection() {
    const tr = def.trigger = def.trigger || {type: "manual", config: {}};
    const c = tr.config = tr.config || {};
    const fs = h("fieldset", {class: "wf-trigger"}, h("legend", {}, t("wf.trigger")));
    fs.append(control({id: "wf-trigger-type", label: t("wf.trigger.type"), path: "trigger.type", kind: "select", value: tr.type, redraw: true,
      options: TRIGGERS.map((x) => [x, t("wf.trigger." + x)]), set: (v) => {
        trigStash[tr.type] = tr.config;
        tr.type = v;
        tr.config = trigStash[v] || (v === "schedule" ? {cron: "", timezone: "Asia/Shanghai"} : v === "wecom_event" ? {events: []} : {});
        triggerDataError = "";
      }}));
    const P = "trigger.config.";
    const ctl = (k, o) => fs.append(control(Object.assign({id: "wf-trigger-" + k, path: P + k, label: t("wf.trigger." + k), value: c[k],
      set: (v) => set(c, [k], v)}, o)));
    switch (tr.type) {
      case "manual":
        fs.append(h("p", {class: "help"}, t("wf.trigger.manual.help")));
        break;
      case "webhook": {
        const auth = c.auth = c.auth || {type: "hmac"}, AP = "trigger.config.auth.";
        fs.append(control({id: "wf-trigger-auth-type", label: t("wf.trigger.auth"), path: AP + "type", kind: "select", value: auth.type,
          redraw: true, options: AUTH_TYPES.map((x) => [x, t("wf.auth." + x)]), set: (v) => {
            for (const f of Object.values(CREDENTIAL)) delete auth[f];
            auth.type = v;
            // The old signature belongs to hmac: another mode drops it.
            if (v !== "hmac" && c.legacySignature) c.legacySignature = false;
          }}));
        if (auth.type === "basic") {
          fs.append(control({id: "wf-trigger-auth-username", label: t("wf.trigger.auth.username"), path: AP + "username",
            value: auth.username, set: (v) => set(auth, ["username"], v.trim())}));
        }
        const field = CREDENTIAL[auth.type], kept = storedAuth.set && storedAuth.type === auth.type;
        fs.append(control({id: "wf-trigger-credential", label: t("wf.auth.cred." + auth.type), path: AP + field, value: auth[field],
          help: t(kept ? "wf.trigger.credential.keep" : "wf.trigger.credential.help"), set: (v) => set(auth, [field], v)}));
        fs.append(btn("wf-trigger-credential-generate", t("wf.trigger.credential.generate"), null, () => {
          const inp = $("wf-trigger-credential");
          inp.value = window.wf.random(32);
          inp.dispatchEvent(new Event("input", {bubbles: true}));
        }));
        fs.append(control({id: "wf-trigger-format", label: t("wf.trigger.format"), path: P + "format", kind: "select", value: c.format || "json",
          redraw: true, options: ["json", "form"].map((x) => [x, t("wf.format." + x)]), set: (v) => set(c, ["format"], v === "json" ? undefined : v)}));
        // Shown only while the stored workflow has it, to be dropped: it can never be set.
        if (storedLegacy && auth.type === "hmac") {
          ctl("legacySignature", {kind: "check", value: c.legacySignature === true, help: t("wf.trigger.legacySignature.help"),
            set: (v) => { c.legacySignature = v; }});
        }
        const hook = hookBase + (def.key || "…");
        const out = h("code", {id: "wf-webhook-url"}, hook);
        fs.append(h("div", {class: "copy"}, h("span", {}, t("wf.trigger.url")), " ", out, " ",
          btn("wf-webhook-url-copy", t("wf.copy"), null, (e) => {
            if (navigator.clipboard) navigator.clipboard.writeText(out.textContent);
            e.currentTarget.classList.add("done");
          })));
        fs.append(h("p", {class: "help", id: "wf-trigger-auth-help"}, t("wf.auth.help." + auth.type)));
        if (auth.type === "hmac") {
          fs.append(h("p", {class: "help"}, t("wf.trigger.sign.snippet")),
            h("pre", {id: "wf-sign-snippet"}, signSnippet(hook, c.format === "form")));
        }
        break;
      }
      case "schedule": {
        ctl("cron", {ph: "0 9 * * 1-5", help: t("wf.trigger.cron.help")});
        ctl("timezone", {ph: "Asia/Shanghai", help: t("wf.trigger.timezone.help")});
        const data = c.data === undefined ? "" : JSON.stringify(c.data, null, 2);
        ctl("data", {kind: "textarea", value: data, help: t("wf.trigger.data.help"), set: (v) => {
          triggerDataError = "";
          if (!v.trim()) { delete c.data; return; }
          try { c.data = JSON.parse(v); } catch (e) { triggerDataError = t("wf.json.invalid", e.message); }
        }});
        break;
      }
      case "wecom_event": {
        const names = auths.map((a) => [a.name, a.title && a.title !== a.name ? a.name + " — " + a.title : a.name]);
        if (c.authenticator && !auths.some((a) => a.name === c.authenticator)) names.push([c.authenticator, c.authenticator]);
        ctl("authenticator", {kind: "select", value: c.authenticator || "", help: t("wf.trigger.authenticator.help"),
          options: [["", t("wf.trigger.authenticator.choose")]].concat(names)});
        fs.append(h("datalist", {id: "wf-events"}, ["template_card_event", "change_contact", "enter_agent", "click", "view", "text", "image",
          "voice", "location", "link", "event"].map((v) => h("option", {value: v}))));
        ctl("events", {value: listText(c.events), list: "wf-events", help: t("wf.trigger.events.help"), set: (v) => { c.events = splitList(v, false); }});
        ctl("expression", {vars: "x", help: t("wf.trigger.expression.help")});
        break;
      }
    }
    return fs;
  }

  // ---- render, save, errors ----
  // drawWorkflow builds the workflow form; render calls draw, which a saved template's page
  // replaces with its message form.
  function drawWorkflow() {
    const top = h("section", {class: "wf-nodes-top", "aria-labelledby": "wf-nodes-heading"}, h("h2", {id: "wf-nodes-heading"}, t("wf.nodes")),
      h("p", {class: "help"}, t("wf.nodes.help")));
    const [ol, add] = nodeList(def.nodes, "add-node", t("wf.node.addType"));
    ol.dataset.path = "nodes";
    top.append(ol, add);
    const parts = [h("ul", {id: "form-errors", class: "wf-problems", "aria-live": "polite"}), basics(), triggerSection(), top];
    if (!readOnly) parts.push(h("div", {class: "wf-savebar"}, h("button", {type: "submit", id: "save-workflow"}, t("wf.save")),
      h("span", {id: "save-status", role: "status"})));
    form.replaceChildren(...parts);
  }
  let draw = drawWorkflow;
  function render(focusId) {
    closeVars();
    const y = window.scrollY;
    draw();
    if (readOnly) form.querySelectorAll("input, select, textarea, button").forEach((el) => { el.disabled = true; });
    syncPaths();
    fillPreviewNodes();
    const f = focusId && $(focusId);
    if (f) f.focus({preventScroll: true});
    window.scrollTo(0, y);
    if (f && typeof f.scrollIntoView === "function") {
      const r = f.getBoundingClientRect();
      if (r.top < 0 || r.bottom > window.innerHeight) f.scrollIntoView({block: "center"});
    }
    schedulePreview();
  }
  // body is what the API takes: the workflow without the fields only reads have.
  function body() {
    const nodes = JSON.parse(JSON.stringify(def.nodes || []));
    const tidy = (list) => list.forEach((n) => {
      if (n.type !== "condition") delete n.branches;
      else for (const b of ["true", "false"]) tidy(n.branches[b] || []);
    });
    tidy(nodes);
    const config = Object.assign({}, def.trigger.config);
    if (def.trigger.type === "webhook") {
      // The mode, a basic username, and the credential only when one was entered (none keeps it).
      const a = config.auth, f = CREDENTIAL[a.type];
      config.auth = {type: a.type};
      if (a.type === "basic") config.auth.username = a.username || "";
      if (a[f]) config.auth[f] = a[f];
    }
    return {key: def.key || "", title: def.title || "", enabled: def.enabled !== false, timeout: def.timeout || "",
      trigger: {type: def.trigger.type, config}, nodes};
  }
  function clearErrors() {
    form.querySelectorAll(".field-error[data-err]").forEach((e) => e.remove());
    form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
    form.querySelectorAll(".field.invalid").forEach((e) => e.classList.remove("invalid"));
    $("form-errors").replaceChildren();
  }
  // showErrors puts each message next to the input whose data-path is its path (or the closest
  // container above it), and scrolls to the first one.
  function showErrors(fields) {
    clearErrors();
    const byPath = new Map();
    form.querySelectorAll("[data-path]").forEach((e) => { if (!byPath.has(e.dataset.path)) byPath.set(e.dataset.path, e); });
    for (const [path, msg] of Object.entries(fields)) {
      let p = path, el;
      while (p && !(el = byPath.get(p))) {
        const up = p.replace(/(\.[^.[\]]*|\[\d+\])$/, "");
        p = up === p ? "" : up;
      }
      const m = h("p", {class: "field-error", id: "err-" + path.replace(/[.[\]]/g, "-"), role: "alert", "data-err": ""},
        p === path ? msg : path + ": " + msg);
      if (!el) { $("form-errors").append(h("li", {}, m)); continue; }
      m.target = el;
      if (/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) {
        el.setAttribute("aria-invalid", "true");
        el.setAttribute("aria-describedby", ((el.getAttribute("aria-describedby") || "") + " " + m.id).trim());
        const wrap = el.closest(".field");
        wrap.classList.add("invalid");
        wrap.append(m);
      } else if (el.tagName === "OL") el.before(m);
      else {
        const head = el.querySelector(":scope > summary, :scope > legend, :scope > .wf-node-head");
        if (head) head.after(m); else el.prepend(m);
      }
      for (let a = m.parentElement; a; a = a.parentElement) if (a.tagName === "DETAILS") a.open = true;
    }
    const first = form.querySelector(".field-error[data-err]");
    if (first) {
      first.scrollIntoView({block: "center"});
      if (first.target && first.target.focus) first.target.focus({preventScroll: true});
    }
  }
  async function save(e) {
    if (e) e.preventDefault();
    const status = $("save-status"), button = $("save-workflow");
    if (triggerDataError) { showErrors({"trigger.config.data": triggerDataError}); status.textContent = t("wf.invalid"); return; }
    status.textContent = t("wf.saving");
    button.disabled = true;
    const r = await window.wf.api(wfId ? "PATCH" : "POST", "/api/v1/workflows" + (wfId ? "/" + wfId : ""), body());
    button.disabled = false;
    const data = r.body && r.body.data;
    if (r.status === 201 && data) { saved = JSON.stringify(body()); window.location.assign("/ui/workflows/" + data.id + "?saved=1"); return; }
    if (r.status === 200 && data) {
      clearErrors();
      def.version = data.version;
      if (def.trigger.type === "webhook") {
        // Saved: the credential is set (a new mode needs one), and is not kept in the page.
        const c = def.trigger.config;
        delete c.auth[CREDENTIAL[c.auth.type]];
        storedAuth = {type: c.auth.type, set: true};
        storedLegacy = c.legacySignature === true;
        render("save-workflow");
      }
      const v = $("wf-version");
      if (v) v.textContent = t("wf.versionN", data.version);
      $("save-status").textContent = t("wf.saved", data.version);
      saved = JSON.stringify(body());
      return;
    }
    const err = (r.body && r.body.error) || {};
    if (err.fields && Object.keys(err.fields).length) {
      showErrors(err.fields);
      status.textContent = err.code === "conflict" ? err.message : t("wf.invalid");
    } else status.textContent = t("wf.failed", err.message || String(r.status));
  }

  // ---- the live preview ----
  let timer = 0, previewSeq = 0;
  const schedulePreview = () => { clearTimeout(timer); timer = setTimeout(preview, 300); };
  const notifications = () => walk().filter((e) => e.n.type === "notification");
  function fillPreviewNodes() {
    const sel = $("preview-node"), list = notifications();
    if (!list.some((e) => uid(e.n) === current)) current = list.length ? uid(list[0].n) : "";
    if (!sel) return; // a saved template's page previews its one message
    sel.replaceChildren(...list.map((e) => h("option", {value: uid(e.n)}, (e.n.key || "?") + " · " + t("wf.msg." + (e.n.config.msgtype || "text")))));
    sel.value = current;
    sel.disabled = !list.length;
  }
  function sample(id) {
    const el = $(id), out = $(id + "-error");
    out.hidden = true;
    if (!el.value.trim()) return null;
    try { return JSON.parse(el.value); } catch (e) {
      out.textContent = t("wf.json.invalid", e.message);
      out.hidden = false;
      return undefined;
    }
  }
  // digestSamples are the results of the digest nodes before node, for the preview: the sample
  // data three times as the items, so the designer sees a digest message. The sample node results
  // the user wrote win. The key is the digest's key when it is plain text or one $context.data
  // path; other templates show as empty.
  function digestSamples(node, data) {
    const all = walk(), at = all.findIndex((x) => x.n === node), out = {};
    for (const {n} of all.slice(0, at)) {
      if (n.type !== "digest" || !n.key) continue;
      const k = String(n.config.key || ""), m = /^\{\{\s*\$context\.data((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}$/.exec(k);
      let key = k.includes("{{") ? "" : k;
      if (m) key = m[1].split(".").slice(1).reduce((v, p) => (v != null && typeof v === "object" ? v[p] : undefined), data);
      out[n.key] = {key: key == null ? "" : typeof key === "string" ? key : JSON.stringify(key), count: 3, items: [data, data, data]};
    }
    return out;
  }
  async function preview() {
    const box = $("preview"), errs = $("preview-errors"), warns = $("preview-warnings");
    const e = notifications().find((x) => uid(x.n) === current);
    if (!e) {
      box.replaceChildren(h("p", {class: "help"}, t("wf.preview.none")));
      errs.replaceChildren();
      warns.replaceChildren();
      return;
    }
    const data = sample("sample-data"), jobs = $("sample-jobs") ? sample("sample-jobs") : null;
    if (data === undefined || jobs === undefined) return;
    const cfg = e.n.config, req = Object.assign({}, cfg, {data, jobs: Object.assign(digestSamples(e.n, data), jobs)});
    // The preview is about the message: recipients are checked when saving, so a stand-in is
    // used unless they change what the message may be (@all, connected enterprises).
    if (!cfg.to || (!cfg.to.all && !cfg.to.linked)) req.to = {wecomUsers: ["preview"]};
    const mine = ++previewSeq;
    const r = await window.wf.api("POST", "/api/v1/render", req);
    if (mine !== previewSeq) return;
    errs.replaceChildren();
    warns.replaceChildren();
    const d = r.body && r.body.data;
    if (r.status === 200 && d) {
      box.classList.remove("stale");
      box.replaceChildren(window.wfCards.render(cfg.msgtype, d.body, {strings: S}));
      for (const w of d.warnings || []) warns.append(h("li", {}, w));
      return;
    }
    box.classList.add("stale");
    const err = (r.body && r.body.error) || {};
    const fields = err.fields && Object.keys(err.fields).length ? err.fields : {"": err.message || String(r.status)};
    errs.append(h("li", {class: "wf-problems-head"}, t("wf.preview.failed")));
    for (const [k, v] of Object.entries(fields)) errs.append(h("li", {}, k ? h("code", {}, k) : null, k ? ": " : null, v));
  }

  // ---- one message alone: a saved template's page and the Send page ----
  // The page's form posts msgtype and the body as JSON, which works without script; here the JSON
  // field gives way to the body form and is filled from it on submit. A template previews on a
  // channel of its type (#preview-channel); the Send page on the channel it sends through, and may
  // name a saved template (#f-template) instead of a body: the preview then shows the template.
  function initMessage() {
    const typeIn = $("f-msgtype"), bodyIn = $("f-body"), chType = $("f-channelType") || $("f-channel"), pick = $("preview-channel");
    const tplIn = $("f-template"), templates = readJSON("templates") || [];
    let body;
    def = {nodes: []};
    try { body = JSON.parse(bodyIn.value.trim() || "{}"); } catch (e) { return; } // the JSON field stays, with its error
    const byType = readJSON("msgtypes") || {}, msgtype = typeIn.value || "text";
    const node = {key: "template", type: "notification", config: {msgtype, [msgtype]: body}};
    const own = node.config;
    def = {nodes: [node]};
    current = uid(node);
    // A channel picked by name says its type on its option; a template's page picks the type.
    const channelType = () => {
      const o = chType.selectedOptions && chType.selectedOptions[0];
      return (o && o.dataset.type) || chType.value || chType.dataset.value;
    };
    // onType offers the channel type's msgtypes (and templates), and its channels to preview on.
    const onType = () => {
      node.config = own;
      msgtypes = byType[channelType()] || [];
      if (!msgtypes.includes(own.msgtype)) switchMsgtype(node, msgtypes[0]);
      if (pick) {
        const mine = channels.filter((c) => c.type === channelType());
        pick.replaceChildren(...mine.map((c) => h("option", {value: c.name}, c.title && c.title !== c.name ? c.name + " — " + c.title : c.name)));
        pick.disabled = !mine.length;
        $("preview-channel-none").hidden = mine.length > 0;
      }
      own.channel = (pick ? pick.value : chType.value) || undefined;
      if (!tplIn) return;
      for (const o of tplIn.options) o.hidden = o.disabled = !!o.value && o.dataset.type !== channelType();
      if (tplIn.selectedOptions[0].disabled) tplIn.value = "";
      // A saved template is previewed as the send renders it, not edited here.
      const t = templates.find((x) => x.name === tplIn.value);
      if (t) node.config = {channel: own.channel, msgtype: t.msgtype, [t.msgtype]: t[t.msgtype]};
    };
    draw = () => {
      // A node's box: its inputs take their paths (data-path) from it, as in the workflow form.
      const box = h("div", {class: "wf-node", id: uid(node)});
      if (node.config === own) messageForm(node, box);
      $("message-body").replaceChildren(box);
    };
    typeIn.closest(".field").hidden = bodyIn.closest(".field").hidden = true;
    if (chType.tagName === "SELECT") chType.addEventListener("change", () => { onType(); render(); });
    if (tplIn) tplIn.addEventListener("change", () => { onType(); render(); });
    if (pick) pick.addEventListener("change", () => { own.channel = pick.value; schedulePreview(); });
    form.addEventListener("submit", () => {
      typeIn.value = own.msgtype;
      bodyIn.value = JSON.stringify(own[own.msgtype] || {});
    });
    onType();
    render();
    // The server's errors on the body (text.content) go next to its fields; its own fields
    // (name, title, channelType) the page already marks.
    const fields = {};
    for (const [k, v] of Object.entries(readJSON("errors") || {})) {
      if (!["", "name", "title", "channelType", "body"].includes(k)) fields["nodes.template.config." + k] = v;
    }
    if (Object.keys(fields).length) { $("body-errors").hidden = true; showErrors(fields); }
  }

  function init() {
    const tform = $("template-form") || $("send-form");
    form = tform || $("workflow-form");
    if (!form || !$("strings")) return;
    S = readJSON("strings") || {};
    channels = readJSON("channels") || [];
    cardtypes = readJSON("cardtypes") || [];
    form.addEventListener("input", schedulePreview);
    form.addEventListener("change", schedulePreview);
    $("sample-data").addEventListener("input", schedulePreview);
    if ($("sample-jobs")) $("sample-jobs").addEventListener("input", schedulePreview); // a send has no $jobs
    document.addEventListener("click", (e) => {
      if (pop && !pop.el.contains(e.target) && !pop.btn.contains(e.target)) closeVars();
    });
    if (tform) return initMessage();
    def = readJSON("definition") || {};
    def.nodes = def.nodes || [];
    def.trigger = def.trigger || {type: "manual", config: {}};
    auths = readJSON("authenticators") || [];
    recipients = readJSON("recipients") || recipients;
    msgtypes = readJSON("msgtypes") || [];
    const ed = $("editor");
    wfId = ed.dataset.id || "";
    hookBase = ed.dataset.hookBase || "";
    readOnly = ed.dataset.readOnly !== undefined;
    const storedConfig = def.trigger.config || {};
    if (def.trigger.type === "webhook" && storedConfig.auth) {
      storedAuth = {type: storedConfig.auth.type, set: storedConfig.auth[CREDENTIAL[storedConfig.auth.type] + "Set"] === true};
      storedLegacy = storedConfig.legacySignature === true;
    }
    if (def.trigger.type === "schedule" && def.trigger.config && def.trigger.config.data !== undefined) {
      $("sample-data").value = JSON.stringify(def.trigger.config.data, null, 2);
    }
    form.addEventListener("submit", save);
    form.addEventListener("focusin", (e) => {
      const node = e.target.closest && e.target.closest(".wf-node-notification");
      if (node && node.id !== current) { current = node.id; $("preview-node").value = current; schedulePreview(); }
    });
    $("preview-node").addEventListener("change", (e) => { current = e.target.value; schedulePreview(); });
    render();
    saved = JSON.stringify(body());
    window.addEventListener("beforeunload", (e) => {
      if (!readOnly && JSON.stringify(body()) !== saved) e.preventDefault();
    });
  }
  // After app.js has wired the page (its listener was added first), so its data-limit counters
  // do not also attach to ours.
  document.addEventListener("DOMContentLoaded", init);
})();
