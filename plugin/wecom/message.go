package wecom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/problem"
)

// The msgtype values WeCom's message/send accepts (API-NOTES "Sending").
const (
	MsgText              = "text"
	MsgImage             = "image"
	MsgVoice             = "voice"
	MsgVideo             = "video"
	MsgFile              = "file"
	MsgTextCard          = "textcard"
	MsgNews              = "news"
	MsgMPNews            = "mpnews"
	MsgMarkdown          = "markdown"
	MsgMiniprogramNotice = "miniprogram_notice"
	MsgTemplateCard      = "template_card"
)

// MsgTypes lists every msgtype, in WeCom's documentation order.
func MsgTypes() []string {
	return []string{MsgText, MsgImage, MsgVoice, MsgVideo, MsgFile, MsgTextCard, MsgNews, MsgMPNews,
		MsgMarkdown, MsgMiniprogramNotice, MsgTemplateCard}
}

// Message is the body of one message: its msgtype and the WeCom object under the key of that name,
// e.g. {"msgtype": "textcard", "textcard": {...}}. The keys are exactly WeCom's, so a Message is both
// the message part of our API body (SPEC §3.4) and of WeCom's message/send request.
//
// Every optional field is omitempty, and numbers and booleans whose zero value means something are
// pointers, so re-marshalling a parsed message gives WeCom exactly the fields the user set.
type Message struct {
	MsgType           string             `json:"msgtype"`
	Text              *Text              `json:"text,omitempty"`
	Image             *Media             `json:"image,omitempty"`
	Voice             *Media             `json:"voice,omitempty"`
	Video             *Video             `json:"video,omitempty"`
	File              *Media             `json:"file,omitempty"`
	TextCard          *TextCard          `json:"textcard,omitempty"`
	News              *News              `json:"news,omitempty"`
	MPNews            *MPNews            `json:"mpnews,omitempty"`
	Markdown          *Markdown          `json:"markdown,omitempty"`
	MiniprogramNotice *MiniprogramNotice `json:"miniprogram_notice,omitempty"`
	TemplateCard      *TemplateCard      `json:"template_card,omitempty"`
}

// Text is a plain text message.
type Text struct {
	Content string `json:"content,omitempty"`
}

// Markdown is a markdown message (WeCom's subset; shown only in the WeCom app, not in WeChat).
type Markdown struct {
	Content string `json:"content,omitempty"`
}

// Media is the body of image, voice and file messages: a WeCom media_id, or — ours, not WeCom's —
// Media, where to get the file so the sender uploads it first. Exactly one of the two is set.
type Media struct {
	MediaID string `json:"media_id,omitempty"`
	// Media is stripped from what WeCom receives: Body and WeComBody drop it, and a sender that
	// marshals a Message itself must clear it after filling MediaID.
	Media *MediaSource `json:"media,omitempty"`
}

// MediaSource says where the file of a media message comes from: a URL the server downloads, or the
// id of a prior POST /api/v1/media upload. Exactly one is set.
type MediaSource struct {
	URL string `json:"url,omitempty"`
	ID  string `json:"id,omitempty"`
}

// Video is a video message: the media plus its title and description.
type Video struct {
	Media
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// TextCard is a text card: a title, a description and a link.
type TextCard struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	BtnTxt      string `json:"btntxt,omitempty"`
}

// News is a news message of 1–8 linked articles.
type News struct {
	Articles []NewsArticle `json:"articles,omitempty"`
}

// NewsArticle is one article of a news message; it opens url, or the mini program appid at pagepath.
type NewsArticle struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	PicURL      string `json:"picurl,omitempty"`
	AppID       string `json:"appid,omitempty"`
	PagePath    string `json:"pagepath,omitempty"`
}

// MPNews is an mpnews message of 1–8 articles whose HTML content WeCom hosts.
type MPNews struct {
	Articles []MPNewsArticle `json:"articles,omitempty"`
}

// MPNewsArticle is one article of an mpnews message.
type MPNewsArticle struct {
	Title            string `json:"title,omitempty"`
	ThumbMediaID     string `json:"thumb_media_id,omitempty"`
	Author           string `json:"author,omitempty"`
	ContentSourceURL string `json:"content_source_url,omitempty"`
	Content          string `json:"content,omitempty"`
	Digest           string `json:"digest,omitempty"`
}

// MiniprogramNotice is a mini program notification; it cannot be sent to @all.
type MiniprogramNotice struct {
	AppID             string        `json:"appid,omitempty"`
	Page              string        `json:"page,omitempty"`
	Title             string        `json:"title,omitempty"`
	Description       string        `json:"description,omitempty"`
	EmphasisFirstItem *bool         `json:"emphasis_first_item,omitempty"`
	ContentItem       []ContentItem `json:"content_item,omitempty"`
}

// ContentItem is one key/value line of a mini program notification.
type ContentItem struct {
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
}

// DecodeMessage decodes a message from JSON; see ParseMessage.
func DecodeMessage(data []byte) (*Message, problem.Fields) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keeps 1.5 apart from 1 for the integer checks of ParseMessage
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, problem.Fields{"": "is not valid JSON: " + err.Error()}
	}
	if dec.More() {
		return nil, problem.Fields{"": "has data after the JSON object"}
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, problem.Fields{"": "must be a JSON object"}
	}
	return ParseMessage(obj)
}

// ParseMessage decodes a message from its generic form: only the message keys (msgtype and the
// bodies; SplitMessage separates them from the rest of an API body). Unknown keys and values of the
// wrong JSON type are reported under their JSON path (news.articles[2].titel) — WeCom would silently
// ignore a misspelt key, so it is caught here instead. The message is not validated: call Validate.
func ParseMessage(raw map[string]any) (*Message, problem.Fields) {
	errs := problem.Fields{}
	checkShape(errs, "", raw, reflect.TypeFor[Message]())
	if len(errs) > 0 {
		return nil, errs
	}
	var m Message
	if errs := plugin.Decode(raw, &m); errs != nil { // what checkShape cannot see, e.g. an int overflow
		return nil, errs
	}
	return &m, nil
}

// SplitMessage separates the message keys (msgtype and the eleven body keys) of an API body or a
// notification node's config from the other keys, without copying the values.
func SplitMessage(body map[string]any) (message, rest map[string]any) {
	message, rest = map[string]any{}, map[string]any{}
	for k, v := range body {
		if k == "msgtype" || slices.Contains(MsgTypes(), k) {
			message[k] = v
		} else {
			rest[k] = v
		}
	}
	return message, rest
}

// Attachment is the media of an image, voice, video or file message, nil for other types. The
// sender uploads Attachment().Media (upload type = msgtype) and fills Attachment().MediaID.
func (m *Message) Attachment() *Media {
	switch m.MsgType {
	case MsgImage:
		return m.Image
	case MsgVoice:
		return m.Voice
	case MsgFile:
		return m.File
	case MsgVideo:
		if m.Video != nil {
			return &m.Video.Media
		}
	}
	return nil
}

// Body is the object under the msgtype key as WeCom's message/send takes it: only the body of the
// msgtype, never our "media" source. It fails when the body is missing or a media message has no
// media_id yet (the upload has not happened). The sender puts it next to the recipients, agentid,
// msgtype and send options.
func (m *Message) Body() (json.RawMessage, error) {
	body, ok := plugin.Encode(m)[m.MsgType].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("wecom: message has no %q body", m.MsgType)
	}
	if a := m.Attachment(); a != nil {
		if a.MediaID == "" {
			return nil, fmt.Errorf("wecom: %s.media_id is not set: upload %s.media first", m.MsgType, m.MsgType)
		}
		delete(body, "media")
	}
	return json.Marshal(body)
}

// WeComBody is the message part of WeCom's message/send request: {"msgtype": …, "<msgtype>": Body()}.
func (m *Message) WeComBody() (json.RawMessage, error) {
	body, err := m.Body()
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"msgtype": m.MsgType, m.MsgType: body})
}

// IsInteractive reports whether the message is a card WeCom calls back about (button, vote and
// multiple interaction cards, and notice cards with an action menu): such cards need a task_id and
// an app with a callback URL (else errcode 43012).
func (m *Message) IsInteractive() bool {
	return m.MsgType == MsgTemplateCard && m.TemplateCard != nil && m.TemplateCard.interactive()
}

// TaskID is the card's task_id, "" for other messages.
func (m *Message) TaskID() string {
	if m.MsgType != MsgTemplateCard || m.TemplateCard == nil {
		return ""
	}
	return m.TemplateCard.TaskID
}

// EnsureTaskID gives an interactive card without a task_id one from newID and returns the card's
// task_id. Validate requires one, but users need not write it (SPEC §4.1's card has none) and WeCom
// wants it unique per app, so the server assigns one per send before validating.
func (m *Message) EnsureTaskID(newID func() string) string {
	if m.IsInteractive() && m.TemplateCard.TaskID == "" {
		m.TemplateCard.TaskID = newID()
	}
	return m.TaskID()
}

// ValidateOptions are what Validate needs to know about the send beyond the message.
type ValidateOptions struct {
	// LinkedCorp is a send to connected enterprises (linkedcorp/message/send): no template_card.
	LinkedCorp bool
	// ToAll is a send to @all: no miniprogram_notice.
	ToAll bool
	// Templated skips the format and length checks, and the truncation, of strings that contain
	// "{{": a workflow being saved holds templates that only rendering turns into final values (the
	// rendered message is validated again before it is sent). Required fields are still required.
	Templated bool
}

// Limits from API-NOTES. Bytes where WeCom counts bytes, characters (runes) where it counts 字.
const (
	maxTextBytes      = 2048
	maxURLBytes       = 2048
	maxTitleBytes     = 128 // video, news
	maxDescBytes      = 512 // video, news
	maxCardTitleRunes = 128 // textcard
	maxCardDescRunes  = 512 // textcard
	maxBtnTxtRunes    = 4
	maxMPNewsContent  = 666 * 1024
	maxArticles       = 8
	maxContentItems   = 10
)

// Validate checks the message against WeCom's rules and returns the problems by JSON path
// (textcard.title, news.articles[2].url, template_card.button_list[0].key, msgtype); errs is nil
// when the message can be sent.
//
// Over-long display text that WeCom would cut or refuse only for its length is truncated in place
// on a character boundary, with a warning "<path> truncated to N characters|bytes":
// text.content and markdown.content (2048 bytes), textcard.title (128 characters) and
// .description (512 characters), video and news article title (128 bytes) and description
// (512 bytes), and template_card.source.desc (20 characters). Everything else is rejected: missing
// fields, URLs (http(s), ≤2048 bytes), ids, keys, enum values, list sizes, mpnews content (cutting
// HTML breaks it) and the short labels whose cut would change their meaning (textcard.btntxt ≤4,
// button text ≤10, mini program title 4–12, content_item key ≤10 and value ≤30 characters).
//
// Interactive cards need a task_id (see EnsureTaskID); whether the app has a callback URL for them
// is for the caller to check with IsInteractive.
func (m *Message) Validate(opts ValidateOptions) (warnings []string, errs problem.Fields) {
	v := &validator{opts: opts, errs: problem.Fields{}}
	v.message(m)
	if len(v.errs) == 0 {
		return v.warnings, nil
	}
	return v.warnings, v.errs
}

func (v *validator) message(m *Message) {
	if m.MsgType == "" {
		v.fail("msgtype", "is required")
		return
	}
	if !slices.Contains(MsgTypes(), m.MsgType) {
		v.fail("msgtype", "must be one of "+strings.Join(MsgTypes(), ", "))
		return
	}
	set := plugin.Encode(m) // the body keys that are present, whatever their content
	for k := range set {
		if k != "msgtype" && k != m.MsgType {
			v.fail(k, fmt.Sprintf("is not allowed with msgtype %s (only the %s body is sent)", m.MsgType, m.MsgType))
		}
	}
	if _, ok := set[m.MsgType]; !ok {
		v.fail(m.MsgType, "is required when msgtype is "+m.MsgType)
		return
	}
	switch {
	case v.opts.LinkedCorp && m.MsgType == MsgTemplateCard:
		v.fail("msgtype", "template_card cannot be sent to connected enterprises")
	case v.opts.ToAll && m.MsgType == MsgMiniprogramNotice:
		v.fail("msgtype", "miniprogram_notice cannot be sent to @all")
	}
	p := m.MsgType
	switch p {
	case MsgText:
		v.content(p+".content", &m.Text.Content)
	case MsgMarkdown:
		v.content(p+".content", &m.Markdown.Content)
	case MsgImage, MsgVoice, MsgFile, MsgVideo:
		v.media(p, m.Attachment())
		if m.Video != nil {
			v.truncateBytes(p+".title", &m.Video.Title, maxTitleBytes)
			v.truncateBytes(p+".description", &m.Video.Description, maxDescBytes)
		}
	case MsgTextCard:
		v.textCard(p, m.TextCard)
	case MsgNews:
		v.news(p, m.News)
	case MsgMPNews:
		v.mpnews(p, m.MPNews)
	case MsgMiniprogramNotice:
		v.miniprogramNotice(p, m.MiniprogramNotice)
	case MsgTemplateCard:
		v.templateCard(p, m.TemplateCard)
	}
}

func (v *validator) content(p string, s *string) {
	if v.required(p, *s) {
		v.truncateBytes(p, s, maxTextBytes)
	}
}

func (v *validator) media(p string, a *Media) {
	switch {
	case a.MediaID == "" && a.Media == nil:
		v.fail(p+".media_id", "is required (or media with a url or an upload id)")
	case a.MediaID != "" && a.Media != nil:
		v.fail(p+".media", "cannot be used together with media_id")
	case a.Media != nil:
		v.exactlyOne(p+".media", "url", a.Media.URL, "id", a.Media.ID)
		v.url(p+".media.url", a.Media.URL)
	}
}

func (v *validator) textCard(p string, c *TextCard) {
	if v.required(p+".title", c.Title) {
		v.truncateRunes(p+".title", &c.Title, maxCardTitleRunes)
	}
	if v.required(p+".description", c.Description) {
		v.truncateRunes(p+".description", &c.Description, maxCardDescRunes)
	}
	v.requiredURL(p+".url", c.URL)
	v.maxRunes(p+".btntxt", c.BtnTxt, maxBtnTxtRunes)
}

func (v *validator) news(p string, n *News) {
	v.count(p+".articles", len(n.Articles), 1, maxArticles)
	for i := range n.Articles {
		a, ap := &n.Articles[i], index(p+".articles", i)
		if v.required(ap+".title", a.Title) {
			v.truncateBytes(ap+".title", &a.Title, maxTitleBytes)
		}
		v.truncateBytes(ap+".description", &a.Description, maxDescBytes)
		v.url(ap+".url", a.URL)
		v.url(ap+".picurl", a.PicURL)
		if a.URL == "" && a.AppID == "" {
			v.fail(ap+".url", "is required (or appid and pagepath of a mini program)")
		}
		if a.PagePath != "" {
			v.required(ap+".appid", a.AppID)
		}
	}
}

func (v *validator) mpnews(p string, n *MPNews) {
	v.count(p+".articles", len(n.Articles), 1, maxArticles)
	for i, a := range n.Articles {
		ap := index(p+".articles", i)
		v.required(ap+".title", a.Title)
		v.required(ap+".thumb_media_id", a.ThumbMediaID)
		if v.required(ap+".content", a.Content) {
			v.maxBytes(ap+".content", a.Content, maxMPNewsContent)
		}
		v.url(ap+".content_source_url", a.ContentSourceURL)
	}
}

func (v *validator) miniprogramNotice(p string, n *MiniprogramNotice) {
	v.required(p+".appid", n.AppID)
	if v.required(p+".title", n.Title) {
		v.runes(p+".title", n.Title, 4, 12)
	}
	v.count(p+".content_item", len(n.ContentItem), 0, maxContentItems)
	for i, it := range n.ContentItem {
		ip := index(p+".content_item", i)
		if v.required(ip+".key", it.Key) {
			v.maxRunes(ip+".key", it.Key, 10)
		}
		if v.required(ip+".value", it.Value) {
			v.maxRunes(ip+".value", it.Value, 30)
		}
	}
}

// validator collects the problems of one message. Its rule helpers take the JSON path first so
// every check reads as one line, and they skip template strings when Options.Templated is set.
type validator struct {
	opts     ValidateOptions
	errs     problem.Fields
	warnings []string
}

func (v *validator) fail(path, msg string) { v.errs.Add(path, msg) }

func (v *validator) warn(format string, args ...any) {
	v.warnings = append(v.warnings, fmt.Sprintf(format, args...))
}

// final says whether s is a final value whose format can be checked (not an unrendered template).
func (v *validator) final(s string) bool {
	return !v.opts.Templated || !strings.Contains(s, "{{")
}

// required reports a missing s and says whether s is there, so further checks can follow.
func (v *validator) required(path, s string) bool {
	if s == "" {
		v.fail(path, "is required")
		return false
	}
	return true
}

// url checks an optional URL: absolute http(s), at most 2048 bytes (WeCom's limit for links).
func (v *validator) url(path, s string) {
	if s == "" || !v.final(s) {
		return
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.fail(path, "must be an absolute http(s) URL")
		return
	}
	v.maxBytes(path, s, maxURLBytes)
}

func (v *validator) requiredURL(path, s string) {
	if v.required(path, s) {
		v.url(path, s)
	}
}

func (v *validator) maxBytes(path, s string, limit int) {
	if v.final(s) && len(s) > limit {
		v.fail(path, fmt.Sprintf("must be at most %d bytes", limit))
	}
}

func (v *validator) maxRunes(path, s string, limit int) {
	if v.final(s) && utf8.RuneCountInString(s) > limit {
		v.fail(path, fmt.Sprintf("must be at most %d characters", limit))
	}
}

func (v *validator) runes(path, s string, lo, hi int) {
	if n := utf8.RuneCountInString(s); v.final(s) && (n < lo || n > hi) {
		v.fail(path, fmt.Sprintf("must be between %d and %d characters", lo, hi))
	}
}

func (v *validator) truncateRunes(path string, s *string, limit int) {
	if !v.final(*s) {
		return
	}
	if cut, ok := TruncateRunes(*s, limit); ok {
		*s = cut
		v.warn("%s truncated to %d characters", path, limit)
	}
}

func (v *validator) truncateBytes(path string, s *string, limit int) {
	if !v.final(*s) {
		return
	}
	if cut, ok := TruncateBytes(*s, limit); ok {
		*s = cut
		v.warn("%s truncated to %d bytes", path, limit)
	}
}

// count checks the length of a list: lo > 0 makes the list required.
func (v *validator) count(path string, n, lo, hi int) {
	switch {
	case lo > 0 && (n < lo || n > hi):
		v.fail(path, fmt.Sprintf("must have between %d and %d items", lo, hi))
	case n > hi:
		v.fail(path, fmt.Sprintf("must have at most %d items", hi))
	}
}

// inRange checks an optional enum value; hint names the values for the message.
func (v *validator) inRange(path string, p *int, lo, hi int, hint string) {
	if p != nil && (*p < lo || *p > hi) {
		v.fail(path, fmt.Sprintf("must be between %d and %d%s", lo, hi, hint))
	}
}

// exactlyOne checks that exactly one of two alternatives of the object at path is set.
func (v *validator) exactlyOne(path, nameA, a, nameB, b string) {
	switch {
	case a == "" && b == "":
		v.fail(path+"."+nameA, "is required (or "+nameB+")")
	case a != "" && b != "":
		v.fail(path+"."+nameB, "cannot be used together with "+nameA)
	}
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// TruncateRunes cuts s to at most limit characters (runes) and reports whether it cut anything. The
// result is always valid UTF-8: runs of invalid bytes in s become U+FFFD.
func TruncateRunes(s string, limit int) (string, bool) {
	s, limit = strings.ToValidUTF8(s, string(utf8.RuneError)), max(limit, 0)
	n := 0
	for i := range s {
		if n == limit {
			return s[:i], true
		}
		n++
	}
	return s, false
}

// TruncateBytes cuts s to at most limit bytes without splitting a character and reports whether it
// cut anything. The result is always valid UTF-8: runs of invalid bytes in s become U+FFFD.
func TruncateBytes(s string, limit int) (string, bool) {
	s, limit = strings.ToValidUTF8(s, string(utf8.RuneError)), max(limit, 0)
	if len(s) <= limit {
		return s, false
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], true
}

// checkShape reports, under its JSON path, every key that t does not have and every value of the
// wrong JSON type, all at once. plugin.Decode alone would stop at the first and name only the key
// of an unknown field, not where it is.
func checkShape(errs problem.Fields, path string, v any, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return // null leaves the zero value, as encoding/json does
	}
	ok := true
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]any
		if obj, ok = v.(map[string]any); ok {
			fields := jsonFields(t, map[string]reflect.Type{})
			for k, fv := range obj {
				fp := k
				if path != "" {
					fp = path + "." + k
				}
				if ft, known := fields[k]; known {
					checkShape(errs, fp, fv, ft)
				} else {
					errs.Add(fp, "unknown field")
				}
			}
		}
	case reflect.Slice:
		var arr []any
		if arr, ok = v.([]any); ok {
			for i, ev := range arr {
				checkShape(errs, index(path, i), ev, t.Elem())
			}
		}
	case reflect.String:
		_, ok = v.(string)
	case reflect.Bool:
		_, ok = v.(bool)
	case reflect.Int:
		ok = isInteger(v)
	case reflect.Float64:
		_, err := toFloat(v)
		ok = err == nil
	}
	if !ok {
		errs.Add(path, "must be "+problem.KindName(t.Kind().String()))
	}
}

// jsonFields maps the JSON names of t's fields to their types, with embedded structs flattened.
func jsonFields(t reflect.Type, into map[string]reflect.Type) map[string]reflect.Type {
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && name == "":
			jsonFields(f.Type, into)
		case f.IsExported() && name != "-":
			into[name] = f.Type
		}
	}
	return into
}

func isInteger(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	}
	f, err := toFloat(v)
	return err == nil && f == math.Trunc(f)
}

func toFloat(v any) (float64, error) {
	switch n := v.(type) {
	case float64:
		return n, nil
	case float32:
		return float64(n), nil
	case json.Number:
		return n.Float64()
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return 0, nil // integers are numbers; the value does not matter here
	}
	return 0, errors.New("not a number")
}
