package wecom

import (
	"strings"
	"testing"
)

// Every hint reads in both languages the web UI speaks, with the IP WeCom named where it matters.
func TestHintsReadInEnglishAndChinese(t *testing.T) {
	for code, h := range hints {
		if h.en == "" || h.zh == "" || strings.Count(h.en, "%s") != strings.Count(h.zh, "%s") {
			t.Errorf("errcode %d: %+v", code, h)
		}
	}
	msg := "not allow to access from your ip, hint: [1], from ip: 203.0.113.7, more info at https://open.work.weixin.qq.com/devtool/query?e=60020"
	if got := HintIn("zh-CN", 60020, msg); !strings.Contains(got, "203.0.113.7") || !strings.Contains(got, "企业可信IP") || strings.Contains(got, "add it") {
		t.Errorf("zh-CN 60020: %q", got)
	}
	if got, want := Hint(60020, msg), HintIn("en", 60020, msg); got != want || !strings.HasPrefix(got, "WeCom refuses calls from 203.0.113.7:") {
		t.Errorf("en 60020: %q / %q", got, want)
	}
	if got := Hint(60020, "no ip here"); !strings.Contains(got, "this server's IP") {
		t.Errorf("60020 without an IP: %q", got)
	}
	if Hint(12345, "") != "" || HintIn("zh-CN", 12345, "") != "" {
		t.Error("an errcode without a hint got one")
	}
}
