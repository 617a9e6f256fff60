package access

import (
	"context"
	"slices"
	"testing"
)

func TestRolesAndRights(t *testing.T) {
	t.Parallel()
	// SPEC §8.1's table, row by row.
	want := map[Right][]Role{
		Read:       {Admin, Designer, Operator, Viewer},
		Send:       {Admin, Designer, Operator},
		People:     {Admin, Operator},
		Design:     {Admin, Designer},
		Administer: {Admin},
	}
	for need, roles := range want {
		for _, r := range append(Roles(), "root", "") {
			if got := r.May(need); got != slices.Contains(roles, r) {
				t.Errorf("%q may %s: %v", r, need, got)
			}
		}
	}
	for _, c := range []struct{ a, b, least Role }{
		{Admin, Operator, Operator}, {Operator, Admin, Operator}, {Designer, Operator, Viewer},
		{Viewer, Admin, Viewer}, {Designer, Designer, Designer},
	} {
		if got := Least(c.a, c.b); got != c.least {
			t.Errorf("Least(%s, %s) = %s, want %s", c.a, c.b, got, c.least)
		}
	}
}

func TestFromNeverMistakesARequestForTheServer(t *testing.T) {
	t.Parallel()
	if p := From(context.Background()); p.Role != Admin || p.Kind != KindSystem {
		t.Fatalf("the server's own work: %+v", p)
	}
	anon := From(WithClient(context.Background(), Client{IP: "203.0.113.7"}))
	if anon.Role != "" || anon.Role.May(Read) {
		t.Fatalf("a request without a principal: %+v", anon)
	}
	p := Principal{Kind: KindToken, ID: 3, Role: Viewer, Channels: []string{"ops"}}
	got := From(With(context.Background(), p))
	if got.ID != 3 || !got.MayUseChannel("ops") || got.MayUseChannel("hr") {
		t.Fatalf("carried principal: %+v", got)
	}
}

func TestChanges(t *testing.T) {
	t.Parallel()
	before := map[string]any{"title": "a", "enabled": true, "options": map[string]any{"corpId": "ww1", "sync": map[string]any{"schedule": "@daily"}},
		"options.secret": "s1"}
	after := map[string]any{"title": "a", "enabled": false, "options": map[string]any{"corpId": "ww1", "sync": map[string]any{"schedule": "@hourly"}, "origin": "x"},
		"options.secret": "s2"}
	got := Changes(before, after)
	want := []string{"enabled", "options.origin", "options.secret", "options.sync.schedule"}
	if !slices.Equal(got, want) {
		t.Fatalf("Changes = %v, want %v", got, want)
	}
	if got := Changes(after, after); len(got) != 0 {
		t.Fatalf("no change: %v", got)
	}
	if got := Changes(map[string]any{"a": 1, "b": 2}, map[string]any{"a": 1}); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("a removed field: %v", got)
	}
	for _, c := range []struct {
		changes []string
		enabled bool
		want    string
	}{
		{[]string{"enabled"}, false, "channel.disable"}, {[]string{"enabled"}, true, "channel.enable"},
		{[]string{"enabled", "title"}, true, "channel.update"},
	} {
		if got := Action("channel", c.changes, c.enabled); got != c.want {
			t.Errorf("Action(%v, %v) = %s, want %s", c.changes, c.enabled, got, c.want)
		}
	}
}

func TestEntryClipsWhatTheClientSent(t *testing.T) {
	t.Parallel()
	ua := string(make([]byte, 600)) + "é"
	ctx := WithClient(With(context.Background(), Principal{Kind: KindAccount, ID: 4, Name: "张三", Role: Viewer}), Client{IP: "203.0.113.7", UserAgent: "x" + ua})
	e := Entry(ctx, "auth.login", Target{Type: "account", ID: 4}, []string{"b", "a", "b"})
	if e.ActorType != KindAccount || e.ActorID != 4 || e.IP != "203.0.113.7" || len(e.UserAgent) > 512 || e.Changes != `["a","b"]` {
		t.Fatalf("entry: %+v", e)
	}
}
