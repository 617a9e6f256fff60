package wecom

import (
	"strings"
	"testing"
)

func TestNormalizeLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		login     any // nil: no login key
		wantRole  string
		wantField string // the field error expected, "" for none
		wantMsg   string
	}{
		{name: "absent", wantRole: "viewer"},
		{name: "enabled, role defaulted", login: map[string]any{"enabled": true}, wantRole: "viewer"},
		{name: "sign-up as operator", login: map[string]any{"enabled": true, "autoSignUp": true, "defaultRole": "operator", "autoLogin": true}, wantRole: "operator"},
		{name: "unknown role", login: map[string]any{"enabled": true, "defaultRole": "owner"}, wantField: "login.defaultRole", wantMsg: "admin, designer, operator, viewer"},
		{name: "autoLogin without enabled", login: map[string]any{"autoLogin": true}, wantField: "login.autoLogin", wantMsg: "needs login.enabled"},
		{name: "autoSignUp without enabled", login: map[string]any{"autoSignUp": true}, wantField: "login.autoSignUp", wantMsg: "needs login.enabled"},
		{name: "not an object", login: true, wantField: "login", wantMsg: "must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := map[string]any{"corpId": "ww0123456789", "agentId": 1000002, "secret": "s"}
			if tt.login != nil {
				in["login"] = tt.login
			}
			out, errs := AuthenticatorType{}.Normalize(in)
			if tt.wantField != "" {
				if msg, ok := errs[tt.wantField]; !ok || !strings.Contains(msg, tt.wantMsg) {
					t.Fatalf("errors %v, want %s: …%s…", errs, tt.wantField, tt.wantMsg)
				}
				return
			}
			if errs != nil {
				t.Fatalf("errors %v", errs)
			}
			login, _ := out["login"].(map[string]any)
			if login["defaultRole"] != tt.wantRole {
				t.Fatalf("login = %v, want defaultRole %s", out["login"], tt.wantRole)
			}
		})
	}
}
