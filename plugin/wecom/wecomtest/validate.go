package wecomtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Message-body rules (page 90236, limits from API-NOTES). WeCom's own pages disagree on whether
// over-long fields are truncated or rejected; the simulator rejects them (45002), the stricter
// reading, so a product that does not truncate finds out here. Required fields missing get
// WeCom's 41xxx "missing parameter" codes where one exists (41006 media_id, 41010 url,
// 41016 title, 41033 description), 44004 for empty content; template_card rule violations
// get 40058 with the JSON path in errmsg.

type jobj map[string]any

type mediaRef struct {
	id   string
	typ  string // the media type it must have
	path string
}

type cardInfo struct {
	cardType    string
	taskID      string
	interactive bool
	keys        map[string]string // event key → the event a click on it raises
}

type bodyInfo struct {
	media []mediaRef
	card  *cardInfo
}

// decodeAny decodes JSON keeping numbers exact.
func decodeAny(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func asObj(v any) jobj {
	m, _ := v.(map[string]any)
	return m
}

func (o jobj) obj(k string) jobj { return asObj(o[k]) }

// str returns a string field; a present field of another type is a 40058.
func (o jobj) str(path, k string) (string, *vErr) {
	v, ok := o[k]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", bad(codeInvalidParameter, "invalid parameter: %s%s must be a string", path, k)
	}
	return s, nil
}

// num returns an integer field (absent → 0); non-integers are a 40058.
func (o jobj) num(path, k string) (int64, *vErr) {
	v, ok := o[k]
	if !ok || v == nil {
		return 0, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, bad(codeInvalidParameter, "invalid parameter: %s%s must be an integer", path, k)
	}
	i, err := n.Int64()
	if err != nil {
		return 0, bad(codeInvalidParameter, "invalid parameter: %s%s must be an integer", path, k)
	}
	return i, nil
}

// list returns an array field as objects; absent → nil.
func (o jobj) list(path, k string) ([]jobj, *vErr) {
	v, ok := o[k]
	if !ok || v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, bad(codeInvalidParameter, "invalid parameter: %s%s must be an array", path, k)
	}
	out := make([]jobj, len(arr))
	for i, a := range arr {
		if out[i] = asObj(a); out[i] == nil {
			return nil, bad(codeInvalidParameter, "invalid parameter: %s%s[%d] must be an object", path, k, i)
		}
	}
	return out, nil
}

// required returns a non-empty string field or the given missing-parameter error.
func (o jobj) required(path, k string, code int) (string, *vErr) {
	s, e := o.str(path, k)
	if e != nil {
		return "", e
	}
	if s == "" {
		return "", bad(code, "%s%s missing", path, k)
	}
	return s, nil
}

func maxBytes(path, k, s string, n int) *vErr {
	if len(s) > n {
		return bad(codeContentTooLarge, "content size out of limit: %s%s is %d bytes, at most %d", path, k, len(s), n)
	}
	return nil
}

func maxChars(path, k, s string, n int) *vErr {
	if c := utf8.RuneCountInString(s); c > n {
		return bad(codeContentTooLarge, "content size out of limit: %s%s is %d characters, at most %d", path, k, c, n)
	}
	return nil
}

func checkURL(path, k, u string) *vErr {
	l := strings.ToLower(u)
	if !strings.HasPrefix(l, "http://") && !strings.HasPrefix(l, "https://") {
		return bad(codeURLNoScheme, "%s%s must start with http:// or https://", path, k)
	}
	return maxBytes(path, k, u, 2048)
}

func firstErr(errs ...*vErr) *vErr {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// validateBody checks the object under the msgtype key. linked is true for
// linkedcorp/message/send, which knows no template_card.
func validateBody(msgtype string, body json.RawMessage, safe int64, linked bool) (*bodyInfo, *vErr) {
	switch msgtype {
	case "text", "markdown", "image", "voice", "file", "video", "textcard", "news", "mpnews", "miniprogram_notice":
	case "template_card":
		if linked {
			return nil, bad(codeInvalidMsgType, "invalid message type: linkedcorp messages do not support template_card")
		}
	default:
		return nil, bad(codeInvalidMsgType, "invalid message type %q", msgtype)
	}
	switch {
	case safe == 2 && msgtype != "mpnews":
		return nil, bad(codeInvalidParameter, "invalid parameter: safe=2 is only for mpnews")
	case safe == 1 && msgtype == "news":
		return nil, bad(codeNewsNoSafe, "")
	case safe < 0 || safe > 2:
		return nil, bad(codeInvalidParameter, "invalid parameter: safe must be 0 or 1")
	}
	if len(body) == 0 {
		return nil, bad(codeInvalidParameter, "invalid parameter: %s missing", msgtype)
	}
	v, err := decodeAny(body)
	o := asObj(v)
	if err != nil || o == nil {
		return nil, bad(codeInvalidParameter, "invalid parameter: %s must be an object", msgtype)
	}
	p := msgtype + "."
	info := &bodyInfo{}
	switch msgtype {
	case "text", "markdown":
		c, e := o.str(p, "content")
		if e != nil {
			return nil, e
		}
		if c == "" {
			return nil, bad(codeEmptyContent, "")
		}
		return info, maxBytes(p, "content", c, 2048)
	case "image", "voice", "file", "video":
		id, e := o.required(p, "media_id", codeMissingMediaID)
		if e != nil {
			return nil, e
		}
		info.media = append(info.media, mediaRef{id: id, typ: msgtype, path: p + "media_id"})
		if msgtype == "video" {
			t, e1 := o.str(p, "title")
			d, e2 := o.str(p, "description")
			if e := firstErr(e1, e2, maxBytes(p, "title", t, 128), maxBytes(p, "description", d, 512)); e != nil {
				return nil, e
			}
		}
		return info, nil
	case "textcard":
		return info, validateTextCard(p, o)
	case "news", "mpnews":
		return info, validateArticles(msgtype, p, o, info)
	case "miniprogram_notice":
		return info, validateMiniProgram(p, o)
	}
	card, media, e := validateCard(o)
	if e != nil {
		return nil, e
	}
	info.card, info.media = card, media
	return info, nil
}

func validateTextCard(p string, o jobj) *vErr {
	title, e := o.required(p, "title", codeMissingTitle)
	if e != nil {
		return e
	}
	desc, e := o.required(p, "description", codeMissingDesc)
	if e != nil {
		return e
	}
	u, e := o.required(p, "url", codeMissingURL)
	if e != nil {
		return e
	}
	btn, e := o.str(p, "btntxt")
	return firstErr(e, maxChars(p, "title", title, 128), maxChars(p, "description", desc, 512),
		checkURL(p, "url", u), maxChars(p, "btntxt", btn, 4))
}

func validateArticles(msgtype, p string, o jobj, info *bodyInfo) *vErr {
	if raw, ok := o["articles"].([]any); ok && len(raw) > 8 {
		return bad(codeArticleCount, "article size out of limit: %d articles, 1 to 8 allowed", len(raw))
	}
	arts, e := o.list(p, "articles")
	if e != nil {
		return e
	}
	if len(arts) < 1 || len(arts) > 8 {
		return bad(codeArticleCount, "article size out of limit: %d articles, 1 to 8 allowed", len(arts))
	}
	for i, a := range arts {
		ap := fmt.Sprintf("%sarticles[%d].", p, i)
		title, e := a.required(ap, "title", codeMissingTitle)
		if e != nil {
			return e
		}
		if e := maxBytes(ap, "title", title, 128); e != nil {
			return e
		}
		if msgtype == "news" {
			desc, e1 := a.str(ap, "description")
			u, e2 := a.str(ap, "url")
			appid, e3 := a.str(ap, "appid")
			if e := firstErr(e1, e2, e3, maxBytes(ap, "description", desc, 512)); e != nil {
				return e
			}
			switch {
			case u != "":
				if e := checkURL(ap, "url", u); e != nil {
					return e
				}
			case appid == "":
				return bad(codeMissingURL, "%surl missing (or appid and pagepath)", ap)
			}
			continue
		}
		thumb, e := a.required(ap, "thumb_media_id", codeMissingMediaID)
		if e != nil {
			return e
		}
		info.media = append(info.media, mediaRef{id: thumb, typ: "image", path: ap + "thumb_media_id"})
		content, e := a.str(ap, "content")
		if e != nil {
			return e
		}
		if content == "" {
			return bad(codeEmptyContent, "empty content: %scontent", ap)
		}
		author, e1 := a.str(ap, "author")
		digest, e2 := a.str(ap, "digest")
		src, e3 := a.str(ap, "content_source_url")
		if e := firstErr(e1, e2, e3, maxBytes(ap, "content", content, 666*1024), maxBytes(ap, "digest", digest, 512)); e != nil {
			return e
		}
		if len(author) > 64 {
			return bad(codeAuthorTooLong, "")
		}
		if src != "" {
			if e := checkURL(ap, "content_source_url", src); e != nil {
				return e
			}
		}
	}
	return nil
}

func validateMiniProgram(p string, o jobj) *vErr {
	if _, e := o.required(p, "appid", codeMiniAppIDMissing); e != nil {
		return e
	}
	title, e := o.required(p, "title", codeMissingTitle)
	if e != nil {
		return e
	}
	if n := utf8.RuneCountInString(title); n < 4 || n > 12 {
		return bad(codeInvalidParameter, "invalid parameter: %stitle must be 4 to 12 characters", p)
	}
	items, e := o.list(p, "content_item")
	if e != nil {
		return e
	}
	if len(items) > 10 {
		return bad(codeMiniItemCount, "")
	}
	for i, it := range items {
		ip := fmt.Sprintf("%scontent_item[%d].", p, i)
		k, e1 := it.str(ip, "key")
		v, e2 := it.str(ip, "value")
		if e := firstErr(e1, e2); e != nil {
			return e
		}
		if n := utf8.RuneCountInString(k); n == 0 || n > 10 {
			return bad(codeMiniItemKey, "")
		}
		if n := utf8.RuneCountInString(v); n == 0 || n > 30 {
			return bad(codeMiniItemValue, "")
		}
	}
	return nil
}

// validTaskID is WeCom's task_id rule: [0-9A-Za-z_-@], at most 128 bytes.
func validTaskID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		ok := r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '-' || r == '@'
		if !ok {
			return false
		}
	}
	return true
}

// cardCheck accumulates what a template_card references while its rules are checked.
type cardCheck struct {
	info  *cardInfo
	media []mediaRef
}

func invalid(format string, args ...any) *vErr {
	return bad(codeInvalidParameter, "invalid parameter: "+format, args...)
}

func validateCard(o jobj) (*cardInfo, []mediaRef, *vErr) {
	const p = "template_card."
	ct, e := o.str(p, "card_type")
	if e != nil {
		return nil, nil, e
	}
	taskID, e := o.str(p, "task_id")
	if e != nil {
		return nil, nil, e
	}
	v := &cardCheck{info: &cardInfo{cardType: ct, taskID: taskID, keys: map[string]string{}}}
	mainTitle, e := o.obj("main_title").str(p+"main_title.", "title")
	if e != nil {
		return nil, nil, e
	}
	switch ct {
	case "text_notice":
		sub, subErr := o.str(p, "sub_title_text")
		if subErr != nil {
			return nil, nil, subErr
		}
		if mainTitle == "" && sub == "" {
			return nil, nil, invalid("template_card.main_title.title and sub_title_text cannot both be empty")
		}
		e = firstErr(v.cardAction(o, true, 1, 2), v.common(o))
	case "news_notice":
		if mainTitle == "" {
			return nil, nil, invalid("template_card.main_title.title missing")
		}
		e = firstErr(v.newsImage(o), v.verticalContent(o), v.cardAction(o, true, 1, 2), v.common(o))
	case "button_interaction":
		if mainTitle == "" {
			return nil, nil, invalid("template_card.main_title.title missing")
		}
		v.info.interactive = true
		e = firstErr(v.buttons(o), v.selection(o, "button_selection", false), v.cardAction(o, false, 0, 1, 2), v.common(o))
	case "vote_interaction":
		v.info.interactive = true
		e = firstErr(v.checkbox(o), v.submit(o))
	case "multiple_interaction":
		v.info.interactive = true
		e = firstErr(v.selectList(o), v.submit(o))
	default:
		return nil, nil, invalid("template_card.card_type %q is not one of text_notice, news_notice, button_interaction, vote_interaction, multiple_interaction", ct)
	}
	if e != nil {
		return nil, nil, e
	}
	switch {
	case taskID != "" && !validTaskID(taskID):
		return nil, nil, invalid("template_card.task_id must be 1-128 bytes of [0-9A-Za-z_-@]")
	case v.info.interactive && taskID == "":
		return nil, nil, invalid("template_card.task_id missing (required for interactive cards and action_menu)")
	}
	return v.info, v.media, nil
}

func (v *cardCheck) cardAction(o jobj, required bool, types ...int64) *vErr {
	const p = "template_card.card_action."
	ca := o.obj("card_action")
	if ca == nil {
		if required {
			return invalid("template_card.card_action missing")
		}
		return nil
	}
	t, e := ca.num(p, "type")
	if e != nil {
		return e
	}
	if !containsInt(types, t) {
		return invalid("%stype %d not allowed here", p, t)
	}
	return v.link(p, ca, t)
}

// link checks the url (type 1) or appid (type 2) a clickable element needs.
func (v *cardCheck) link(p string, o jobj, t int64) *vErr {
	switch t {
	case 1:
		u, e := o.str(p, "url")
		if e != nil {
			return e
		}
		if u == "" {
			return invalid("%surl missing", p)
		}
		return checkURL(p, "url", u)
	case 2:
		a, e := o.str(p, "appid")
		if e != nil {
			return e
		}
		if a == "" {
			return invalid("%sappid missing", p)
		}
	}
	return nil
}

// common checks the parts text_notice, news_notice and button_interaction share.
func (v *cardCheck) common(o jobj) *vErr {
	const p = "template_card."
	if src := o.obj("source"); src != nil {
		c, e := src.num(p+"source.", "desc_color")
		if e != nil {
			return e
		}
		if c < 0 || c > 3 {
			return invalid("template_card.source.desc_color must be 0-3")
		}
	}
	if q := o.obj("quote_area"); q != nil {
		t, e := q.num(p+"quote_area.", "type")
		if e != nil {
			return e
		}
		if t < 0 || t > 2 {
			return invalid("template_card.quote_area.type must be 0-2")
		}
		if e := v.link(p+"quote_area.", q, t); e != nil {
			return e
		}
	}
	hs, e := o.list(p, "horizontal_content_list")
	if e != nil {
		return e
	}
	if len(hs) > 6 {
		return invalid("template_card.horizontal_content_list has %d items, at most 6", len(hs))
	}
	for i, h := range hs {
		hp := fmt.Sprintf("%shorizontal_content_list[%d].", p, i)
		if _, e := h.required(hp, "keyname", codeInvalidParameter); e != nil {
			return invalid("%skeyname missing", hp)
		}
		t, e := h.num(hp, "type")
		if e != nil {
			return e
		}
		switch t {
		case 0:
		case 1:
			if e := v.link(hp, h, 1); e != nil {
				return e
			}
		case 2:
			id, _ := h.str(hp, "media_id")
			if id == "" {
				return invalid("%smedia_id missing", hp)
			}
			v.media = append(v.media, mediaRef{id: id, typ: "file", path: hp + "media_id"})
		case 3:
			if id, _ := h.str(hp, "userid"); id == "" {
				return invalid("%suserid missing", hp)
			}
		default:
			return invalid("%stype must be 0-3", hp)
		}
	}
	js, e := o.list(p, "jump_list")
	if e != nil {
		return e
	}
	if len(js) > 3 {
		return invalid("template_card.jump_list has %d items, at most 3", len(js))
	}
	for i, j := range js {
		jp := fmt.Sprintf("%sjump_list[%d].", p, i)
		if t, _ := j.str(jp, "title"); t == "" {
			return invalid("%stitle missing", jp)
		}
		t, e := j.num(jp, "type")
		if e != nil {
			return e
		}
		if t < 0 || t > 2 {
			return invalid("%stype must be 0-2", jp)
		}
		if e := v.link(jp, j, t); e != nil {
			return e
		}
	}
	return v.actionMenu(o)
}

// actionMenu makes a notice card interactive: its keys raise template_card_menu_event.
func (v *cardCheck) actionMenu(o jobj) *vErr {
	const p = "template_card.action_menu."
	m := o.obj("action_menu")
	if m == nil {
		return nil
	}
	acts, e := m.list(p, "action_list")
	if e != nil {
		return e
	}
	if len(acts) < 1 || len(acts) > 3 {
		return invalid("%saction_list must have 1-3 items", p)
	}
	for i, a := range acts {
		ap := fmt.Sprintf("%saction_list[%d].", p, i)
		text, _ := a.str(ap, "text")
		key, _ := a.str(ap, "key")
		if text == "" || key == "" {
			return invalid("%stext and key are required", ap)
		}
		v.info.keys[key] = "template_card_menu_event"
	}
	v.info.interactive = true
	return nil
}

func (v *cardCheck) newsImage(o jobj) *vErr {
	const p = "template_card."
	img, area := o.obj("card_image"), o.obj("image_text_area")
	switch {
	case img != nil && area != nil:
		return invalid("template_card: card_image and image_text_area are exclusive")
	case img != nil:
		if u, _ := img.str(p+"card_image.", "url"); u == "" {
			return invalid("template_card.card_image.url missing")
		}
	case area != nil:
		if u, _ := area.str(p+"image_text_area.", "image_url"); u == "" {
			return invalid("template_card.image_text_area.image_url missing")
		}
	default:
		return invalid("template_card: news_notice needs card_image or image_text_area")
	}
	return nil
}

func (v *cardCheck) verticalContent(o jobj) *vErr {
	const p = "template_card."
	vs, e := o.list(p, "vertical_content_list")
	if e != nil {
		return e
	}
	if len(vs) > 4 {
		return invalid("template_card.vertical_content_list has %d items, at most 4", len(vs))
	}
	for i, it := range vs {
		if t, _ := it.str(p, "title"); t == "" {
			return invalid("template_card.vertical_content_list[%d].title missing", i)
		}
	}
	return nil
}

func (v *cardCheck) buttons(o jobj) *vErr {
	const p = "template_card."
	bs, e := o.list(p, "button_list")
	if e != nil {
		return e
	}
	if len(bs) < 1 || len(bs) > 6 {
		return invalid("template_card.button_list must have 1-6 buttons")
	}
	for i, b := range bs {
		bp := fmt.Sprintf("%sbutton_list[%d].", p, i)
		text, e := b.str(bp, "text")
		if e != nil {
			return e
		}
		if text == "" || utf8.RuneCountInString(text) > 10 {
			return invalid("%stext must be 1-10 characters", bp)
		}
		style, e := b.num(bp, "style")
		if e != nil {
			return e
		}
		if _, ok := b["style"]; ok && (style < 1 || style > 4) {
			return invalid("%sstyle must be 1-4", bp)
		}
		t, e := b.num(bp, "type")
		if e != nil {
			return e
		}
		switch t {
		case 0:
			key, _ := b.str(bp, "key")
			if key == "" {
				return invalid("%skey missing", bp)
			}
			v.info.keys[key] = "template_card_event"
		case 1:
			if e := v.link(bp, b, 1); e != nil {
				return e
			}
		default:
			return invalid("%stype must be 0 or 1", bp)
		}
	}
	return nil
}

// selection checks a {question_key, option_list} block.
func (v *cardCheck) selection(o jobj, field string, required bool) *vErr {
	s := o.obj(field)
	if s == nil {
		if required {
			return invalid("template_card.%s missing", field)
		}
		return nil
	}
	return checkOptions("template_card."+field+".", s, 10)
}

func checkOptions(p string, s jobj, maxOptions int) *vErr {
	if q, _ := s.str(p, "question_key"); q == "" {
		return invalid("%squestion_key missing", p)
	}
	opts, e := s.list(p, "option_list")
	if e != nil {
		return e
	}
	if len(opts) < 1 || len(opts) > maxOptions {
		return invalid("%soption_list must have 1-%d options", p, maxOptions)
	}
	for i, op := range opts {
		id, _ := op.str(p, "id")
		text, _ := op.str(p, "text")
		if id == "" || text == "" {
			return invalid("%soption_list[%d]: id and text are required", p, i)
		}
	}
	return nil
}

func (v *cardCheck) checkbox(o jobj) *vErr {
	const p = "template_card.checkbox."
	cb := o.obj("checkbox")
	if cb == nil {
		return invalid("template_card.checkbox missing")
	}
	mode, e := cb.num(p, "mode")
	if e != nil {
		return e
	}
	if mode != 0 && mode != 1 {
		return invalid("%smode must be 0 or 1", p)
	}
	return checkOptions(p, cb, 20)
}

func (v *cardCheck) selectList(o jobj) *vErr {
	const p = "template_card."
	ss, e := o.list(p, "select_list")
	if e != nil {
		return e
	}
	if len(ss) < 1 || len(ss) > 3 {
		return invalid("template_card.select_list must have 1-3 items")
	}
	for i, s := range ss {
		if e := checkOptions(fmt.Sprintf("%sselect_list[%d].", p, i), s, 10); e != nil {
			return e
		}
	}
	return nil
}

func (v *cardCheck) submit(o jobj) *vErr {
	const p = "template_card.submit_button."
	sb := o.obj("submit_button")
	if sb == nil {
		return invalid("template_card.submit_button missing")
	}
	key, e := sb.str(p, "key")
	if e != nil {
		return e
	}
	if key == "" {
		return invalid("%skey missing", p)
	}
	v.info.keys[key] = "template_card_event"
	return nil
}

func containsInt(xs []int64, x int64) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
