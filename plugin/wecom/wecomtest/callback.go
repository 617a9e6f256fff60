package wecomtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// CallbackCaller plays WeCom calling a message-reception URL (the app's 接收消息 URL or the
// 通讯录同步 URL): it encrypts and signs with the URL's Token and EncodingAESKey like WeCom.
type CallbackCaller struct {
	URL            string // the callback URL; existing query parameters are kept
	Token          string
	EncodingAESKey string
	CorpID         string // the ReceiveId sealed into every message
	Client         *http.Client
	Now            func() time.Time // the timestamp source; default time.Now
}

func (c *CallbackCaller) client() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	return http.DefaultClient
}

func (c *CallbackCaller) timestamp() string {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return strconv.FormatInt(now().Unix(), 10)
}

// randomDigits returns n random decimal digits, the shape of WeCom's nonces and echostrs.
func randomDigits(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		if i == 0 && d.Int64() == 0 {
			d = big.NewInt(1)
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// Verify plays the URL verification WeCom does when an admin saves the callback settings: a GET
// with msg_signature, timestamp, nonce and an encrypted echostr. It returns the plaintext the
// receiver must answer with, and what it answered; the receiver passed when status is 200 and
// body == echoPlain exactly.
func (c *CallbackCaller) Verify(ctx context.Context) (echoPlain string, status int, body string, err error) {
	echoPlain = randomDigits(19)
	enc, err := Encrypt(c.EncodingAESKey, c.CorpID, nil, []byte(echoPlain))
	if err != nil {
		return "", 0, "", err
	}
	ts, nonce := c.timestamp(), randomDigits(10)
	q := url.Values{
		"msg_signature": {Signature(c.Token, ts, nonce, enc)},
		"timestamp":     {ts},
		"nonce":         {nonce},
		"echostr":       {enc},
	}
	status, body, err = c.do(ctx, http.MethodGet, q, nil)
	return echoPlain, status, body, err
}

var agentIDRe = regexp.MustCompile(`<AgentID>\s*(?:<!\[CDATA\[)?\s*(\d+)`)

// Post encrypts plainXML with a fresh random prefix and nonce, signs it and POSTs WeCom's
// envelope <xml><ToUserName/><AgentID/><Encrypt/></xml>. AgentID is copied from plainXML (empty
// for contacts events). Posting the same plainXML twice plays WeCom's retry: same message,
// different ciphertext.
func (c *CallbackCaller) Post(ctx context.Context, plainXML string) (status int, body string, err error) {
	q, envelope, err := c.Seal(plainXML)
	if err != nil {
		return 0, "", err
	}
	return c.PostEnvelope(ctx, q, envelope)
}

// Seal is what Post sends for plainXML: the signed query and the envelope, for a load test that
// encrypts before its clock starts and posts with PostEnvelope.
func (c *CallbackCaller) Seal(plainXML string) (query url.Values, envelope []byte, err error) {
	enc, err := Encrypt(c.EncodingAESKey, c.CorpID, nil, []byte(plainXML))
	if err != nil {
		return nil, nil, err
	}
	agentID := ""
	if m := agentIDRe.FindStringSubmatch(plainXML); m != nil {
		agentID = m[1]
	}
	envelope = []byte("<xml><ToUserName>" + cdata(c.CorpID) + "</ToUserName><AgentID>" + cdata(agentID) +
		"</AgentID><Encrypt>" + cdata(enc) + "</Encrypt></xml>")
	ts, nonce := c.timestamp(), randomDigits(10)
	return url.Values{
		"msg_signature": {Signature(c.Token, ts, nonce, enc)},
		"timestamp":     {ts},
		"nonce":         {nonce},
	}, envelope, nil
}

// PostEnvelope POSTs body with the query as given, for tests that tamper with signatures,
// timestamps, ciphertexts or envelopes.
func (c *CallbackCaller) PostEnvelope(ctx context.Context, query url.Values, body []byte) (status int, respBody string, err error) {
	return c.do(ctx, http.MethodPost, query, body)
}

func (c *CallbackCaller) do(ctx context.Context, method string, query url.Values, body []byte) (int, string, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return 0, "", fmt.Errorf("wecomtest: callback URL: %w", err)
	}
	q := u.Query()
	for k, vs := range query {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/xml")
	}
	req.Header.Set("User-Agent", "Mozilla/4.0") // what WeCom's callback requests carry
	resp, err := c.client().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}
