package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/silenceper/wechat/v2/util"

	"github.com/wecomflow/wecomflow/models"
)

// Identity is who signed in through WeCom: a member (UserID) or a WeChat user who is not a
// member of the corp (OpenID, stable per corp). Exactly one is set.
type Identity struct {
	UserID string
	OpenID string
}

type userInfoResponse struct {
	util.CommonError
	UserID string `json:"userid"`
	OpenID string `json:"openid"`
}

func (r *userInfoResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

// UserInfoByCode trades the code WeCom's sign-in page appended to the redirect for the person
// who signed in (auth/getuserinfo). A code works once, within 5 minutes, for the app it was
// issued for; WeCom answers 40029 otherwise, returned as an *APIError.
func (c *Client) UserInfoByCode(ctx context.Context, code string) (Identity, error) {
	var res userInfoResponse
	if err := c.call(ctx, "auth/getuserinfo", http.MethodGet, url.Values{"code": {code}}, "", nil, &res); err != nil {
		return Identity{}, err
	}
	// An answer naming nobody must not become a sign-in as the empty userid.
	if res.UserID == "" && res.OpenID == "" {
		return Identity{}, &TransportError{API: "auth/getuserinfo", Sent: true, Err: errors.New("answer without userid or openid")}
	}
	return Identity{UserID: res.UserID, OpenID: res.OpenID}, nil
}

// SignInApp is what signing in through an authenticator needs without its secret: the app the
// sign-in pages are for and the login options. Reading it unseals nothing.
type SignInApp struct {
	CorpID  string
	AgentID int64
	// Origin is where people open wecomflow for this corp, when not at the server's public URL
	// (the app's trusted domain, 可信域名).
	Origin string
	Login  LoginOptions
}

// SignInAppOf reads a stored WeCom authenticator's sign-in app from its (non-secret) options.
func SignInAppOf(a *models.Authenticator) SignInApp {
	var o struct {
		CorpID  string       `json:"corpId"`
		AgentID int64        `json:"agentId"`
		Origin  string       `json:"origin"`
		Login   LoginOptions `json:"login"`
	}
	_ = json.Unmarshal([]byte(a.Options), &o)
	return SignInApp{CorpID: o.CorpID, AgentID: o.AgentID, Origin: o.Origin, Login: o.Login}
}
