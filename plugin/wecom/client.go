package wecom

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/util"
	"github.com/silenceper/wechat/v2/work/message"

	"github.com/wecomflow/wecomflow/models"
)

// WeCom's public hosts: the API, the QR sign-in page (企业微信Web登录) and the in-app OAuth page
// (网页授权登录).
const (
	DefaultAPIBase   = "https://qyapi.weixin.qq.com"
	DefaultLoginBase = "https://login.work.weixin.qq.com"
	DefaultOAuthBase = "https://open.weixin.qq.com"
)

// APIError is an answer from WeCom with a non-zero errcode.
type APIError struct {
	Code int64
	Msg  string
	// API names the call, e.g. "message/send".
	API string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wecom %s: errcode %d: %s", e.API, e.Code, e.Msg)
}

// TransportError is a call that got no WeCom answer: a network failure, a timeout or an HTTP
// status other than 200. Sent reports whether the request had been written when it failed, in
// which case WeCom may have acted on it.
type TransportError struct {
	API    string
	Status int
	Sent   bool
	Err    error
}

func (e *TransportError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("wecom %s: HTTP %d", e.API, e.Status)
	}
	return fmt.Sprintf("wecom %s: %v", e.API, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// ErrCode is the WeCom errcode in err, or 0.
func ErrCode(err error) int64 {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

// App is what a client needs of an authenticator.
type App struct {
	AuthenticatorID uint64
	CorpID          string
	AgentID         int64
	Secret          string
	// APIBase overrides the process default (private deployments, egress proxies).
	APIBase string
}

// TokenStore is the shared token cache (the database), so all instances use one token per app.
type TokenStore interface {
	GetAccessToken(ctx context.Context, authenticatorID uint64) (*models.AccessToken, error)
	SaveAccessToken(ctx context.Context, t *models.AccessToken) error
	DropAccessToken(ctx context.Context, authenticatorID uint64, token string) error
	// WithLock runs fn while no other instance holds the lock name.
	WithLock(ctx context.Context, name string, wait time.Duration, fn func() error) error
}

// Clients hands out one Client per authenticator and keeps their tokens: in memory, in the
// TokenStore for other instances, fetched one at a time per app.
type Clients struct {
	store   TokenStore
	http    *http.Client
	base    string
	now     func() time.Time
	onFetch func(authenticatorID uint64, err error)

	mu   sync.Mutex
	apps map[uint64]*appToken
}

type appToken struct {
	mu         sync.Mutex // held while fetching: one gettoken at a time per app
	token      string
	secretHash string
	expires    time.Time
}

// ClientsOptions configure NewClients.
type ClientsOptions struct {
	// APIBase is the default WeCom API base (WECOMFLOW_WECOM_API_BASE).
	APIBase string
	// Timeout bounds one HTTP call (default 10 s).
	Timeout time.Duration
	Now     func() time.Time
	// OnTokenFetch is told of every gettoken call (metrics).
	OnTokenFetch func(authenticatorID uint64, err error)
	// Transport replaces the HTTP transport (tests).
	Transport http.RoundTripper
}

// NewClients builds the client set.
func NewClients(store TokenStore, o ClientsOptions) *Clients {
	if o.APIBase == "" {
		o.APIBase = DefaultAPIBase
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnTokenFetch == nil {
		o.OnTokenFetch = func(uint64, error) {}
	}
	tr := o.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		tr = t
	}
	return &Clients{store: store, http: &http.Client{Transport: tr, Timeout: o.Timeout}, base: strings.TrimRight(o.APIBase, "/"),
		now: o.Now, onFetch: o.OnTokenFetch, apps: map[uint64]*appToken{}}
}

// Client calls WeCom for one app.
type Client struct {
	App
	c *Clients
}

// Client returns the client of app.
func (cs *Clients) Client(app App) *Client {
	if app.APIBase == "" {
		app.APIBase = cs.base
	}
	app.APIBase = strings.TrimRight(app.APIBase, "/")
	return &Client{App: app, c: cs}
}

func (cs *Clients) app(id uint64) *appToken {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	a, ok := cs.apps[id]
	if !ok {
		a = &appToken{}
		cs.apps[id] = a
	}
	return a
}

// tokenMargin keeps a token from being used in its last minute, when it may expire in flight.
const tokenMargin = time.Minute

func secretHash(corpID, secret string) string {
	sum := sha256.Sum256([]byte(corpID + "\x00" + secret))
	return hex.EncodeToString(sum[:])
}

// Token returns a valid access token: from memory, from the shared cache, or — one caller at a
// time per app across every instance — from gettoken.
func (c *Client) Token(ctx context.Context) (string, error) {
	a := c.c.app(c.AuthenticatorID)
	a.mu.Lock()
	defer a.mu.Unlock()
	hash := secretHash(c.CorpID, c.Secret)
	if a.token != "" && a.secretHash == hash && c.c.now().Add(tokenMargin).Before(a.expires) {
		return a.token, nil
	}
	if c.cached(ctx, a, hash) {
		return a.token, nil
	}
	// The lock makes the other instances wait for this fetch and then read its token from the
	// shared cache: gettoken stays at one call per app per token lifetime cluster-wide.
	err := c.c.store.WithLock(ctx, fmt.Sprintf("wecomflow_token_%d", c.AuthenticatorID), c.c.http.Timeout+5*time.Second, func() error {
		if c.cached(ctx, a, hash) {
			return nil
		}
		token, ttl, err := c.fetchToken(ctx)
		c.c.onFetch(c.AuthenticatorID, err)
		if err != nil {
			return err
		}
		a.token, a.secretHash, a.expires = token, hash, c.c.now().Add(ttl)
		// A failed cache write costs other instances a fetch of their own; this token works regardless.
		_ = c.c.store.SaveAccessToken(ctx, &models.AccessToken{AuthenticatorID: c.AuthenticatorID, SecretHash: hash,
			Token: models.NewSecret(token), ExpiresAt: a.expires})
		return nil
	})
	if err != nil {
		return "", err
	}
	return a.token, nil
}

// cached takes a valid token for the secret from the shared cache into memory, if there is one.
func (c *Client) cached(ctx context.Context, a *appToken, hash string) bool {
	t, err := c.c.store.GetAccessToken(ctx, c.AuthenticatorID)
	if err != nil || t.SecretHash != hash || !c.c.now().Add(tokenMargin).Before(t.ExpiresAt) {
		return false
	}
	a.token, a.secretHash, a.expires = t.Token.Plain, hash, t.ExpiresAt
	return true
}

// tokenResponse is gettoken's answer, in silenceper's shape.
type tokenResponse struct{ credential.ResAccessToken }

func (r *tokenResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

// fetchToken calls gettoken through the clients' own HTTP client (its transport and timeout), like
// every other call; its errors never carry the URL, which holds the secret.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	u := c.APIBase + "/cgi-bin/gettoken?" + url.Values{"corpid": {c.CorpID}, "corpsecret": {c.Secret}}.Encode()
	var res tokenResponse
	if err := c.do(ctx, "gettoken", http.MethodGet, u, "", nil, &res); err != nil {
		return "", 0, err
	}
	if res.AccessToken == "" {
		return "", 0, &TransportError{API: "gettoken", Err: errors.New("answer without access_token")}
	}
	ttl := time.Duration(res.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 7200 * time.Second
	}
	return res.AccessToken, ttl, nil
}

// invalidate forgets token after WeCom rejected it (40014/42001), unless it was already replaced.
// Memory and the shared cache are cleared under the app's lock: a Token call in between must not
// reload the rejected token from the database and cost another refresh.
func (c *Client) invalidate(ctx context.Context, token string) {
	a := c.c.app(c.AuthenticatorID)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token == token {
		a.token = ""
	}
	_ = c.c.store.DropAccessToken(ctx, c.AuthenticatorID, token)
}

// Check fetches a fresh token, bypassing every cache: the connection test an admin runs.
func (c *Client) Check(ctx context.Context) error {
	_, _, err := c.fetchToken(ctx)
	c.c.onFetch(c.AuthenticatorID, err)
	return err
}

// withToken runs call with a token; when WeCom says the token is invalid or expired (40014, 42001)
// it drops that token, fetches once and calls once more.
func (c *Client) withToken(ctx context.Context, call func(token string) error) error {
	token, err := c.Token(ctx)
	if err != nil {
		return err
	}
	err = call(token)
	if code := ErrCode(err); code != 40014 && code != 42001 {
		return err
	}
	c.invalidate(ctx, token)
	if token, err = c.Token(ctx); err != nil {
		return err
	}
	return call(token)
}

// commonResponse is what every WeCom answer carries.
type commonResponse interface{ errcode() (int64, string) }

type plainResponse struct{ util.CommonError }

func (r *plainResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

// call sends one request with a token and decodes the answer into out.
func (c *Client) call(ctx context.Context, api, method string, query url.Values, contentType string, body []byte, out commonResponse) error {
	return c.withToken(ctx, func(token string) error {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("access_token", token)
		return c.do(ctx, api, method, c.APIBase+"/cgi-bin/"+api+"?"+q.Encode(), contentType, body, out)
	})
}

// do sends one request and decodes WeCom's JSON answer into out. Its errors keep only the cause
// of a failure, never the URL: it carries the token or the secret.
func (c *Client) do(ctx context.Context, api, method, rawURL, contentType string, body []byte, out commonResponse) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return &TransportError{API: api, Err: errors.New("the request cannot be built")}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	var sent bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { sent = true }}))
	resp, err := c.c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &TransportError{API: api, Sent: sent, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return &TransportError{API: api, Sent: true, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return &TransportError{API: api, Sent: true, Status: resp.StatusCode}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &TransportError{API: api, Sent: true, Err: fmt.Errorf("answer is not JSON: %w", err)}
	}
	if code, msg := out.errcode(); code != 0 {
		return &APIError{API: api, Code: code, Msg: MaskSecrets(msg)}
	}
	return nil
}

// SendResult is WeCom's answer to message/send (or the linked-corp send), lists "|"-joined.
type SendResult struct {
	message.SendResponse
}

func (r *SendResult) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

// linkedSendResponse is the connected-enterprise answer: the invalid lists are arrays.
type linkedSendResponse struct {
	util.CommonError
	InvalidUser  []string `json:"invaliduser"`
	InvalidParty []string `json:"invalidparty"`
	InvalidTag   []string `json:"invalidtag"`
	MsgID        string   `json:"msgid"`
}

func (r *linkedSendResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

// Send posts a prepared message/send body. A partial failure (some recipients invalid) is not an
// error: the result lists them. When every recipient is invalid WeCom answers 81013, which is
// returned as an APIError together with the result.
func (c *Client) Send(ctx context.Context, payload []byte) (*SendResult, error) {
	var res SendResult
	err := c.call(ctx, "message/send", http.MethodPost, nil, "application/json", payload, &res)
	return &res, err
}

// SendLinked posts a linkedcorp/message/send body and returns the result in the same shape as Send.
func (c *Client) SendLinked(ctx context.Context, payload []byte) (*SendResult, error) {
	var lr linkedSendResponse
	err := c.call(ctx, "linkedcorp/message/send", http.MethodPost, nil, "application/json", payload, &lr)
	res := &SendResult{}
	res.CommonError = lr.CommonError
	res.InvalidUser, res.InvalidParty, res.InvalidTag = strings.Join(lr.InvalidUser, "|"), strings.Join(lr.InvalidParty, "|"), strings.Join(lr.InvalidTag, "|")
	res.MsgID = lr.MsgID
	return res, err
}

// Recall withdraws a sent message (within 24 h).
func (c *Client) Recall(ctx context.Context, msgID string) error {
	body, _ := json.Marshal(map[string]string{"msgid": msgID})
	return c.call(ctx, "message/recall", http.MethodPost, nil, "application/json", body, &plainResponse{})
}

// UpdateTemplateCard changes the buttons of a card a member clicked, using the ResponseCode of
// that click (once, within 72 h).
func (c *Client) UpdateTemplateCard(ctx context.Context, userIDs []string, responseCode, replaceName string) error {
	body, _ := json.Marshal(map[string]any{"userids": userIDs, "agentid": c.AgentID, "response_code": responseCode,
		"button": map[string]string{"replace_name": replaceName}})
	return c.call(ctx, "message/update_template_card", http.MethodPost, nil, "application/json", body, &plainResponse{})
}

type uploadResponse struct {
	util.CommonError
	Type      string `json:"type"`
	MediaID   string `json:"media_id"`
	CreatedAt string `json:"created_at"`
}

func (r *uploadResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

// UploadMedia uploads a temporary media file (valid 3 days) and returns its media_id.
func (c *Client) UploadMedia(ctx context.Context, mediaType, filename string, content []byte) (string, error) {
	body, contentType, err := mediaForm(filename, content)
	if err != nil {
		return "", err
	}
	var res uploadResponse
	if err := c.call(ctx, "media/upload", http.MethodPost, url.Values{"type": {mediaType}}, contentType, body, &res); err != nil {
		return "", err
	}
	return res.MediaID, nil
}

// mediaForm is the multipart body of an upload: the file in the part "media", as WeCom's upload
// APIs take it.
func mediaForm(filename string, content []byte) (body []byte, contentType string, err error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("media", filename)
	if err != nil {
		return nil, "", err
	}
	_, _ = fw.Write(content)
	_ = mw.Close()
	return buf.Bytes(), mw.FormDataContentType(), nil
}
