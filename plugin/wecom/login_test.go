package wecom

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/wecomflow/wecomflow/models/storetest"
	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

func TestUserInfoByCode(t *testing.T) {
	t.Parallel()
	sim := wecomtest.New(wecomtest.Options{Seed: 1})
	demo := wecomtest.SeedDemo(sim)
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	client := NewClients(storetest.Open(t, storetest.Options{}), ClientsOptions{APIBase: hs.URL}).
		Client(App{AuthenticatorID: 1, CorpID: demo.CorpID, AgentID: demo.AgentID, Secret: demo.Secret})
	ctx := context.Background()

	member := sim.IssueLoginCode(demo.CorpID, demo.AgentID, "zhangsan")
	if id, err := client.UserInfoByCode(ctx, member); err != nil || id != (Identity{UserID: "zhangsan"}) {
		t.Fatalf("member: %+v, %v", id, err)
	}
	outsider := sim.IssueLoginCode(demo.CorpID, demo.AgentID, "")
	if id, err := client.UserInfoByCode(ctx, outsider); err != nil || id.UserID != "" || id.OpenID == "" {
		t.Fatalf("outsider: %+v, %v", id, err)
	}

	// A code works once: the second use is WeCom's 40029, as an APIError.
	_, err := client.UserInfoByCode(ctx, member)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != 40029 || ae.API != "auth/getuserinfo" {
		t.Fatalf("reused code: %v", err)
	}

	// WeCom dropping the token early costs one refresh, not the sign-in: the refused call did not
	// use the code up.
	code := sim.IssueLoginCode(demo.CorpID, demo.AgentID, "lisi")
	sim.InvalidateTokens(demo.CorpID)
	if id, err := client.UserInfoByCode(ctx, code); err != nil || id.UserID != "lisi" {
		t.Fatalf("after invalidation: %+v, %v", id, err)
	}
	if n := sim.Calls("gettoken"); n != 2 {
		t.Errorf("gettoken called %d times, want 2", n)
	}
}
