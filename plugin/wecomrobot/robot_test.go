package wecomrobot

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/problem"
)

func TestParseKeyTakesAKeyOrTheWebhookURL(t *testing.T) {
	const key = "693a91f6-7b2c-4bc4-97a0-0ec2f1a5aaaa"
	for in, want := range map[string]string{
		key: key, " " + key + " ": key,
		"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + key: key,
		// The host of a pasted URL is not kept: only the key is.
		"https://evil.example/cgi-bin/webhook/send?key=" + key: key,
	} {
		if got, bad := ParseKey(in); got != want || bad != "" {
			t.Errorf("ParseKey(%q) = %q, %q", in, got, bad)
		}
	}
	for _, in := range []string{"", "short", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "https://example.com/hook?key=" + key, "key with spaces!"} {
		if got, bad := ParseKey(in); bad == "" {
			t.Errorf("ParseKey(%q) = %q, want a problem", in, got)
		}
	}
}

func TestComposeMentionsAndLimits(t *testing.T) {
	typ := ChannelType{}
	compose := func(msgtype string, body map[string]any, m plugin.Mentions) (map[string]any, []string, problem.Fields) {
		t.Helper()
		out, err := typ.Compose(context.Background(), plugin.Compose{MsgType: msgtype, Body: body, Mentions: m})
		if err != nil {
			return nil, nil, err.(*problem.Error).Fields
		}
		var got map[string]any
		_ = json.Unmarshal(out.Body, &got)
		return got, out.Warnings, nil
	}
	got, _, errs := compose("text", map[string]any{"content": "down"}, plugin.Mentions{UserIDs: []string{"zhangsan"}, Mobiles: []string{"13800000000"}, All: true})
	if errs != nil || strings.Join(toStrings(got["mentioned_list"]), ",") != "zhangsan,@all" || strings.Join(toStrings(got["mentioned_mobile_list"]), ",") != "13800000000" {
		t.Fatalf("text: %v %v", got, errs)
	}
	got, warnings, errs := compose("markdown_v2", map[string]any{"content": strings.Repeat("界", 2000)}, plugin.Mentions{})
	if errs != nil || len(got["content"].(string)) > maxMarkdownBytes || len(warnings) != 1 {
		t.Fatalf("a long markdown_v2: %d bytes, %v, %v", len(got["content"].(string)), warnings, errs)
	}
	for _, c := range []struct {
		msgtype string
		body    map[string]any
		m       plugin.Mentions
		field   string
	}{
		{"textcard", map[string]any{"title": "x"}, plugin.Mentions{}, "msgtype"},
		{"markdown", map[string]any{"content": "x"}, plugin.Mentions{All: true}, "to.all"},
		{"markdown_v2", map[string]any{"content": "x"}, plugin.Mentions{UserIDs: []string{"a"}}, "to"},
		{"image", map[string]any{"media_id": "abc"}, plugin.Mentions{}, "image.media_id"},
		{"news", map[string]any{"articles": []any{map[string]any{"title": "x", "appid": "wx1", "pagepath": "p"}}}, plugin.Mentions{}, "news.articles[0].url"},
	} {
		if _, _, errs := compose(c.msgtype, c.body, c.m); errs[c.field] == "" {
			t.Errorf("%s %v: errors %v, want one on %s", c.msgtype, c.body, errs, c.field)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}
