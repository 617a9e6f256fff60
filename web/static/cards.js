// wecomflow cards: shows a WeCom message body as the WeCom app displays it on a phone.
//   wfCards.render(msgtype, body, opts) → an element
// body is the object under the msgtype key (what POST /api/v1/render answers). opts:
//   onButton(key, {selected}) — called when a card button or submit button is clicked;
//   replaceName — the text that replaced the buttons after a click (update_template_card);
//   strings — the page's catalogue ("wf.cards.*"); without it the #strings element, else WeCom's
//   own Chinese labels.
// Everything is built with textContent: the HTML WeCom allows (textcard's <div class>, markdown's
// <font color>) is parsed into elements, never handed to innerHTML. Pictures are not loaded (they
// live on other origins): a placeholder names where they come from.
"use strict";
(function () {
  const FALLBACK = {"wf.cards.details": "详情", "wf.cards.viewDetails": "查看详情", "wf.cards.submit": "提交", "wf.cards.image": "图片",
    "wf.cards.voice": "语音", "wf.cards.video": "视频", "wf.cards.file": "文件", "wf.cards.miniprogram": "小程序",
    "wf.cards.readMore": "阅读全文", "wf.cards.select": "请选择", "wf.cards.member": "成员"};
  let S = null;
  const L = (k) => (S && S[k]) || FALLBACK[k] || k;
  function h(tag, cls, ...kids) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const c of kids.flat(9)) if (c != null && c !== false && c !== "") e.append(c);
    return e;
  }
  const str = (v) => (v == null ? "" : String(v));
  // safeURL keeps http(s) links only.
  const safeURL = (u) => (/^https?:\/\//i.test(str(u)) ? str(u) : "");
  function link(u, ...kids) {
    const href = safeURL(u);
    if (!href) return h("span", "wfc-link", kids);
    const a = h("a", "wfc-link", kids);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }
  function host(u) {
    try { return new URL(str(u)).host; } catch (e) { return str(u); }
  }
  // picture is a placeholder for an image on another origin.
  const picture = (u, cls) => h("div", "wfc-pic " + (cls || ""), h("span", "", cls === "wfc-thumb" ? "▣" : "▣ " + (host(u) || L("wf.cards.image"))));
  const ENT = {lt: "<", gt: ">", amp: "&", quot: "\"", apos: "'", nbsp: "\u00a0", "#39": "'"};
  const decode = (s) => s.replace(/&(lt|gt|amp|quot|apos|nbsp|#39);/g, (m, k) => ENT[k]);

  // inline renders WeCom markdown's inline marks: **bold**, `code`, [text](url) and
  // <font color="info|comment|warning">.
  const INLINE = /\*\*([\s\S]+?)\*\*|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|<font\s+color=["']?(info|comment|warning)["']?\s*>([\s\S]*?)<\/font>/i;
  function inline(s) {
    const out = [];
    while (s) {
      const m = INLINE.exec(s);
      if (!m) { out.push(s); break; }
      if (m.index) out.push(s.slice(0, m.index));
      if (m[1] != null) out.push(h("strong", "", inline(m[1])));
      else if (m[2] != null) out.push(h("code", "", m[2]));
      else if (m[3] != null) out.push(link(m[4], inline(m[3])));
      else out.push(h("span", "wfc-" + m[5].toLowerCase(), inline(m[6])));
      s = s.slice(m.index + m[0].length);
    }
    return out;
  }
  // markdown renders WeCom's subset line by line: headings, quotes, lists, paragraphs.
  function markdown(src) {
    const root = h("div", "wfc-md");
    let list = null, quote = null;
    for (const line of str(src).split(/\r?\n/)) {
      let m;
      if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
        list = quote = null;
        root.append(h("div", "wfc-h wfc-h" + m[1].length, inline(m[2])));
      } else if ((m = /^>\s?(.*)$/.exec(line))) {
        list = null;
        if (!quote) root.append(quote = h("blockquote", "wfc-quote-md"));
        quote.append(h("div", "", inline(m[1])));
      } else if ((m = /^\s*(?:[-*+]|(\d+)\.)\s+(.*)$/.exec(line))) {
        quote = null;
        const tag = m[1] ? "ol" : "ul";
        if (!list || list.tagName.toLowerCase() !== tag) root.append(list = h(tag, ""));
        list.append(h("li", "", inline(m[2])));
      } else {
        list = quote = null;
        root.append(line.trim() ? h("div", "wfc-line", inline(line)) : h("div", "wfc-gap"));
      }
    }
    return root;
  }
  // cardHTML renders a textcard description: text with <br> and <div class="gray|highlight|normal">.
  function cardHTML(src) {
    const root = h("div", "wfc-desc"), stack = [root];
    const re = /<div\s+class=["']?(gray|highlight|normal)["']?\s*>|<\/div\s*>|<br\s*\/?>/gi;
    let at = 0, m;
    const text = (s) => { if (s) stack[stack.length - 1].append(decode(s)); };
    while ((m = re.exec(src))) {
      text(src.slice(at, m.index));
      at = re.lastIndex;
      const top = stack[stack.length - 1];
      if (m[1]) { const d = h("div", "wfc-" + m[1].toLowerCase()); top.append(d); stack.push(d); }
      else if (/^<br/i.test(m[0])) top.append(h("br"));
      else if (stack.length > 1) stack.pop();
    }
    text(src.slice(at));
    return root;
  }
  // textWithLinks renders a text message; WeCom turns <a href="…">…</a> into links.
  function textWithLinks(src) {
    const out = h("div", "wfc-text"), re = /<a\s+href=["']([^"']*)["']\s*>([\s\S]*?)<\/a>/gi;
    let at = 0, m;
    while ((m = re.exec(src))) {
      out.append(src.slice(at, m.index), link(m[1], m[2]));
      at = re.lastIndex;
    }
    out.append(src.slice(at));
    return out;
  }
  function today() {
    try { return new Date().toLocaleDateString(document.documentElement.lang || "zh-CN", {month: "long", day: "numeric"}); } catch (e) { return ""; }
  }
  const footer = (text, u) => h("div", "wfc-foot", link(u, text), h("span", "wfc-arrow", "›"));

  function textcard(b) {
    return h("div", "wfc-card wfc-textcard", h("div", "wfc-title", str(b.title)), h("div", "wfc-date", today()),
      cardHTML(str(b.description)), footer(str(b.btntxt) || L("wf.cards.details"), b.url));
  }
  function news(b, mp) {
    const arts = Array.isArray(b.articles) ? b.articles : [];
    const box = h("div", "wfc-card wfc-news");
    arts.forEach((a, i) => {
      const pic = mp ? (a.thumb_media_id ? "media:" + a.thumb_media_id : "") : a.picurl;
      if (i === 0) {
        const top = h("div", "wfc-news-top", arts.length === 1 ? h("div", "wfc-title", str(a.title)) : null, picture(pic, "wfc-wide"),
          arts.length > 1 ? h("div", "wfc-news-over", str(a.title)) : null);
        box.append(link(mp ? a.content_source_url : a.url, top));
        if (arts.length === 1) {
          const desc = mp ? a.digest : a.description;
          if (desc) box.append(h("div", "wfc-desc", str(desc)));
          box.append(footer(L("wf.cards.readMore"), mp ? a.content_source_url : a.url));
        }
      } else box.append(link(mp ? a.content_source_url : a.url, h("div", "wfc-news-row", h("span", "", str(a.title)), picture(pic, "wfc-thumb"))));
    });
    return box;
  }
  function media(kind, b) {
    const id = b.media_id || (b.media && (b.media.url || b.media.id)) || "";
    return h("div", "wfc-bubble wfc-media", h("span", "wfc-media-kind", "[" + L("wf.cards." + kind) + "]"),
      b.title ? h("div", "wfc-title", str(b.title)) : null, b.description ? h("div", "wfc-desc", str(b.description)) : null,
      h("div", "wfc-muted", str(id)));
  }
  function miniprogram(b) {
    const items = Array.isArray(b.content_item) ? b.content_item : [];
    return h("div", "wfc-card wfc-mini", h("div", "wfc-source", h("span", "wfc-icon"), L("wf.cards.miniprogram")),
      h("div", "wfc-title", str(b.title)), b.description ? h("div", "wfc-muted", str(b.description)) : null,
      items.map((it, i) => (i === 0 && b.emphasis_first_item
        ? h("div", "wfc-emph", h("div", "wfc-emph-title", str(it.value)), h("div", "wfc-muted", str(it.key)))
        : h("div", "wfc-kv", h("span", "wfc-key", str(it.key)), h("span", "", str(it.value))))),
      footer(L("wf.cards.viewDetails"), ""));
  }

  // template card parts, in the order WeCom draws them.
  function templateCard(c, opts) {
    const card = h("div", "wfc-card wfc-tc wfc-" + str(c.card_type));
    const src = c.source || {};
    if (src.desc || src.icon_url || c.action_menu) {
      card.append(h("div", "wfc-source", src.icon_url ? h("span", "wfc-icon") : null,
        h("span", "wfc-c" + (Number(src.desc_color) || 0), str(src.desc)),
        c.action_menu ? h("span", "wfc-menu", "⋯") : null));
    }
    const mt = c.main_title || {};
    if (mt.title) card.append(h("div", "wfc-title", str(mt.title)));
    if (mt.desc) card.append(h("div", "wfc-muted", str(mt.desc)));
    if (c.card_image && c.card_image.url) card.append(picture(c.card_image.url, "wfc-wide"));
    const ita = c.image_text_area;
    if (ita) card.append(link(ita.url, h("div", "wfc-ita", picture(ita.image_url, "wfc-thumb"),
      h("div", "", h("div", "wfc-strong", str(ita.title)), h("div", "wfc-muted", str(ita.desc))))));
    const em = c.emphasis_content;
    if (em && (em.title || em.desc)) card.append(h("div", "wfc-emph", h("div", "wfc-emph-title", str(em.title)), h("div", "wfc-muted", str(em.desc))));
    const q = c.quote_area;
    if (q && (q.title || q.quote_text)) card.append(link(q.url, h("div", "wfc-quote", q.title ? h("div", "wfc-strong", str(q.title)) : null, str(q.quote_text))));
    if (c.sub_title_text) card.append(h("div", "wfc-sub", str(c.sub_title_text)));
    for (const v of arr(c.vertical_content_list)) card.append(h("div", "wfc-vert", h("div", "wfc-strong", str(v.title)), h("div", "wfc-muted", str(v.desc))));
    const hz = arr(c.horizontal_content_list);
    if (hz.length) {
      card.append(h("div", "wfc-hz", hz.map((x) => {
        const ty = Number(x.type) || 0;
        const val = ty === 1 ? link(x.url, str(x.value)) : ty === 2 ? h("span", "wfc-link", "▤ " + str(x.value)) :
          ty === 3 ? h("span", "wfc-link", "@" + str(x.value || x.userid)) : h("span", "", str(x.value));
        return h("div", "wfc-kv", h("span", "wfc-key", str(x.keyname)), val);
      })));
    }
    const jumps = arr(c.jump_list);
    if (jumps.length) card.append(h("div", "wfc-jumps", jumps.map((j) => h("div", "wfc-jump", link(j.url, str(j.title)), h("span", "wfc-arrow", "›")))));
    interactions(card, c, opts);
    if (c.card_action && (c.card_type === "text_notice" || c.card_type === "news_notice")) card.append(footer(L("wf.cards.viewDetails"), c.card_action.url));
    return card;
  }
  const arr = (v) => (Array.isArray(v) ? v : []);
  // interactions draws the parts a member acts on; a click reports the key and the choices.
  function interactions(card, c, opts) {
    const choices = [];
    const selector = (s, cls) => {
      const sel = h("select", "");
      for (const o of [{id: "", text: L("wf.cards.select")}].concat(arr(s.option_list))) {
        const op = h("option", "", str(o.text));
        op.value = str(o.id);
        sel.append(op);
      }
      sel.value = str(s.selected_id);
      choices.push(() => [s.question_key, sel.value ? [sel.value] : []]);
      return h("label", "wfc-select " + (cls || ""), h("span", "wfc-muted", str(s.title)), sel);
    };
    if (c.button_selection) card.append(selector(c.button_selection));
    if (c.checkbox) {
      const cb = c.checkbox, multi = Number(cb.mode) === 1, name = "wfc-" + Math.random().toString(36).slice(2);
      const inputs = arr(cb.option_list).map((o) => {
        const i = h("input", "");
        i.type = multi ? "checkbox" : "radio";
        i.name = name;
        i.value = str(o.id);
        i.checked = o.is_checked === true;
        return [i, o];
      });
      card.append(h("div", "wfc-options", inputs.map(([i, o]) => h("label", "wfc-option", i, " ", str(o.text)))));
      choices.push(() => [cb.question_key, inputs.filter(([i]) => i.checked).map(([i]) => i.value)]);
    }
    for (const s of arr(c.select_list)) card.append(selector(s, "wfc-block"));
    const selected = () => {
      const out = {};
      for (const f of choices) { const [k, v] = f(); out[str(k)] = v; }
      return out;
    };
    const press = (key) => { if (opts.onButton) opts.onButton(str(key), {selected: selected()}); };
    const buttons = arr(c.button_list);
    if (opts.replaceName && (buttons.length || c.submit_button)) {
      const done = h("button", "wfc-btn wfc-done", str(opts.replaceName));
      done.type = "button";
      done.disabled = true;
      card.append(h("div", "wfc-btns", done));
      return;
    }
    if (buttons.length) {
      card.append(h("div", "wfc-btns", buttons.map((b) => {
        if (Number(b.type) === 1) return link(b.url, h("span", "wfc-btn wfc-s" + (Number(b.style) || 1), str(b.text)));
        const el = h("button", "wfc-btn wfc-s" + (Number(b.style) || 1), str(b.text));
        el.type = "button";
        el.dataset.key = str(b.key);
        el.addEventListener("click", () => press(b.key));
        return el;
      })));
    }
    if (c.submit_button) {
      const el = h("button", "wfc-btn wfc-s1 wfc-submit", str(c.submit_button.text) || L("wf.cards.submit"));
      el.type = "button";
      el.dataset.key = str(c.submit_button.key);
      el.addEventListener("click", () => press(c.submit_button.key));
      card.append(h("div", "wfc-btns", el));
    }
  }

  function render(msgtype, body, opts) {
    opts = opts || {};
    if (opts.strings) S = opts.strings;
    else if (!S) { try { S = JSON.parse(document.getElementById("strings").textContent); } catch (e) { S = {}; } }
    const b = body && typeof body === "object" ? body : {};
    let inner;
    switch (msgtype) {
      case "text": inner = h("div", "wfc-bubble", textWithLinks(str(b.content))); break;
      case "markdown": inner = h("div", "wfc-bubble", markdown(b.content)); break;
      case "textcard": inner = textcard(b); break;
      case "news": inner = news(b, false); break;
      case "mpnews": inner = news(b, true); break;
      case "image": case "voice": case "video": case "file": inner = media(msgtype, b); break;
      case "miniprogram_notice": inner = miniprogram(b); break;
      case "template_card": inner = templateCard(b, opts); break;
      default: inner = h("pre", "wfc-bubble", JSON.stringify(b, null, 2));
    }
    return h("div", "wfc wfc-" + str(msgtype), inner);
  }
  window.wfCards = {render, markdown, cardHTML};
})();
