package server

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// englishSentence is three English words in a row: a sentence the pages failed to translate.
var englishSentence = regexp.MustCompile(`[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}`)

// shownErrors are the texts a page shows as errors: the field errors, the banner, the lists of
// problems and the errors handed to the page's script; what is in <code> (a field's path, an
// id) is left out.
var (
	codeSpan     = regexp.MustCompile(`(?s)<code>.*?</code>`)
	errorTexts   = regexp.MustCompile(`(?s)class="(?:field-error|flash|wf-problems)"[^>]*>(.*?)</(?:p|div|ul)>`)
	errorsScript = regexp.MustCompile(`(?s)<script type="application/json" id="errors">(.*?)</script>`)
	tags         = regexp.MustCompile(`<[^>]+>`)
)

func shownErrors(t *testing.T, page string) []string {
	t.Helper()
	page = codeSpan.ReplaceAllString(page, "")
	var out []string
	for _, m := range errorTexts.FindAllStringSubmatch(page, -1) {
		out = append(out, html.UnescapeString(tags.ReplaceAllString(m[1], " ")))
	}
	for _, m := range errorsScript.FindAllStringSubmatch(page, -1) {
		var fields map[string]string
		if err := json.Unmarshal([]byte(m[1]), &fields); err != nil {
			t.Fatalf("the errors for the page's script: %v: %s", err, m[1])
		}
		for _, v := range fields {
			out = append(out, v)
		}
	}
	return out
}

// Every form of the admin pages, sent with bad input on a Chinese page, shows its errors in
// Chinese: the service's English sentences are translated, ids and field names aside.
func TestWebPageErrorsInChinese(t *testing.T) {
	t.Parallel()
	e := newMassEnv(t, deliveryOptions{})
	w := e.webLogin()
	long := strings.Repeat("x", 300)
	cases := []struct {
		name, path string
		form       url.Values
	}{
		{"authenticator", "/ui/authenticators", url.Values{"name": {"Bad Name"}, "title": {long}, "options.corpId": {""}, "options.agentId": {"-3"}}},
		{"channel", "/ui/channels", url.Values{"name": {"1bad name"}, "title": {long}, "options.duplicateCheckInterval": {"soon"}}},
		{"channel limits", "/ui/channels", url.Values{"name": {"ops2"}, "authenticatorId": {"9"}, "options.duplicateCheckInterval": {"99999"}}},
		{"channel taken", "/ui/channels", url.Values{"name": {"ops"}, "authenticatorId": {"1"}}},
		{"channel test", "/ui/channels/1/test", url.Values{"to.users": {"nobody"}, "text.content": {""}}},
		{"user", "/ui/users", url.Values{"userid": {"has space"}, "email": {"nope"}, "bindings.wechatwk": {"bad id!"}}},
		{"template", "/ui/templates", url.Values{"name": {""}, "channelType": {"wecom"}, "msgtype": {"textcard"}, "body": {"{}"}}},
		{"template body", "/ui/templates", url.Values{"name": {"t1"}, "channelType": {"wecom"}, "msgtype": {"text"}, "body": {"{"}}},
		{"send", "/ui/send", url.Values{"channel": {"nope"}, "msgtype": {"text"}, "body": {"{}"}}},
		{"send recipients", "/ui/send", url.Values{"channel": {"ops"}, "msgtype": {"textcard"}, "body": {"{}"}, "to.mobiles": {"abc"}, "to.emails": {"x"}}},
		{"chat", "/ui/channels/1/chats", url.Values{"name": {""}, "wecomUsers": {"zhangsan"}, "chatid": {"not a chatid!"}}},
		{"mass message", "/ui/mass-messages", url.Values{"authenticatorId": {"1"}, "chatType": {"single"}, "sender": {"local-nobody"}}},
		{"token", "/ui/tokens", url.Values{"name": {""}, "role": {"boss"}, "channels": {"nope"}, "expiresAt": {"2000-01-02T03:04"}}},
		{"account", "/ui/accounts", url.Values{"name": {""}, "role": {"boss"}}},
	}
	for _, tc := range cases {
		res := w.post(tc.path+"?lang=zh-CN", tc.form)
		if res.Status < 400 {
			t.Errorf("%s: %d, want a refusal", tc.name, res.Status)
			continue
		}
		shown := shownErrors(t, string(res.Body))
		if len(shown) == 0 {
			t.Errorf("%s: %d shows no errors: %s", tc.name, res.Status, res.Body)
		}
		for _, s := range shown {
			if english := englishSentence.FindString(s); english != "" {
				t.Errorf("%s: an error in English (%q): %s", tc.name, english, s)
			}
		}
	}
}

// The API answers in English, and in Chinese when the request asks with Accept-Language, as the
// pages' scripts do (the workflow editor's save, the previews): the message and the field
// errors are translated, the code and the field paths stay.
func TestAPIErrorsInTheAskedLanguage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	save := func(lang string) response {
		req := httptest.NewRequest("POST", "/api/v1/workflows", strings.NewReader(`{"key": "Bad Key", "trigger": {"type": "manual"}, "nodes": []}`))
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Type", "application/json")
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		w := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(w, req)
		return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
	}
	en, zh := save(""), save("zh-CN")
	if en.Status != 422 || zh.Status != 422 || en.Code() != zh.Code() {
		t.Fatalf("English %d %s, Chinese %d %s", en.Status, en.Body, zh.Status, zh.Body)
	}
	if englishSentence.FindString(en.Fields()["key"].(string)) == "" {
		t.Errorf("without Accept-Language the key's error is not English: %s", en.Body)
	}
	if len(zh.Fields()) != len(en.Fields()) {
		t.Errorf("the fields differ: %v and %v", zh.Fields(), en.Fields())
	}
	for path, msg := range zh.Fields() {
		if s := englishSentence.FindString(msg.(string)); s != "" {
			t.Errorf("%s: %q is English in Chinese (%q)", path, msg, s)
		}
	}
	if s := englishSentence.FindString(zh.JSON()["error"].(map[string]any)["message"].(string)); s != "" {
		t.Errorf("the message is English in Chinese (%q): %s", s, zh.Body)
	}
	if got := save("en-US,en;q=0.9"); string(got.Body) != string(en.Body) {
		t.Errorf("in English: %s, want %s", got.Body, en.Body)
	}
}

// A preview's warnings come in the asked language too: the editor shows them beside the card.
func TestPreviewWarningsInTheAskedLanguage(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	body, _ := json.Marshal(map[string]any{"channel": "ops", "to": map[string]any{"wecomUsers": []any{"zs"}}, "msgtype": "textcard", "textcard": map[string]any{
		"title": strings.Repeat("长", 200), "description": "d", "url": "https://example.com/"}})
	preview := func(lang string) []any {
		req := httptest.NewRequest("POST", "/api/v1/render", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Language", lang)
		w := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(w, req)
		res := response{Status: w.Code, Body: w.Body.Bytes()}
		warnings, _ := res.Data()["warnings"].([]any)
		if res.Status != 200 || len(warnings) != 1 {
			t.Fatalf("preview in %s: %d %s", lang, res.Status, res.Body)
		}
		return warnings
	}
	if en, zh := preview("en"), preview("zh-CN"); en[0] != "textcard.title truncated to 128 characters" || zh[0] != "textcard.title 已截断为 128 个字符" {
		t.Errorf("warnings: %q in English, %q in Chinese", en, zh)
	}
}
