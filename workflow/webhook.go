package workflow

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// Webhook authentication types (SPEC §10.1).
const (
	AuthHMAC    = "hmac"
	AuthBearer  = "bearer"
	AuthBasic   = "basic"
	AuthGrafana = "grafana"
)

// credentialField is each auth type's write-only field; the value is kept sealed apart from the
// definition, in the workflow's one webhook secret.
var credentialField = map[string]string{AuthHMAC: "secret", AuthGrafana: "secret", AuthBearer: "token", AuthBasic: "password"}

// Formats of a webhook body.
const (
	FormatJSON = "json"
	FormatForm = "form"
)

// Headers of the webhook contract.
const (
	// TimestampHeader and SignatureHeader carry an hmac webhook's unix time and
	// "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body).
	TimestampHeader = "X-Wecomflow-Timestamp"
	SignatureHeader = "X-Wecomflow-Signature"
	// IdempotencyHeader names the webhook call that a retry repeats (modes other than hmac,
	// whose signature already names the call); maxIdempotencyKey bounds it so that "webhook:"
	// and the key fit the executions' dedup column.
	IdempotencyHeader = "Idempotency-Key"
	maxIdempotencyKey = 120
)

// Grafana's header names: its documentation's default and the one its code has used.
var (
	grafanaSignatureHeaders = []string{"X-Grafana-Alert-Signature", "X-Grafana-Alerting-Signature"}
	grafanaTimestampHeaders = []string{"X-Grafana-Alert-Signature-Timestamp", "X-Grafana-Alerting-Signature-Timestamp"}
)

// SignatureWindow is how far an hmac webhook's timestamp may be from now; a repeated signature
// is answered with its first execution, and an older one is refused.
const SignatureWindow = 300 * time.Second

// webhookConfig is what a webhook trigger's stored config says about a request.
type webhookConfig struct {
	AuthType, Username, Format string
	// LegacySignature accepts the body-only signature of workflows saved before SPEC §10.1.
	LegacySignature bool
}

func readWebhookConfig(cfg map[string]any) webhookConfig {
	auth, _ := cfg["auth"].(map[string]any)
	c := webhookConfig{AuthType: AuthHMAC, Format: FormatJSON}
	if t, _ := auth["type"].(string); t != "" {
		c.AuthType = t
	}
	if f, _ := cfg["format"].(string); f != "" {
		c.Format = f
	}
	c.Username, _ = auth["username"].(string)
	c.LegacySignature, _ = cfg["legacySignature"].(bool)
	return c
}

// decodeWebhookAuth takes the credential out of a webhook trigger's config (config.secret, the
// short form of hmac, or auth.secret / auth.token / auth.password) into d, and drops the
// auth's "…Set" flags a client may send back from a GET.
func decodeWebhookAuth(cfg map[string]any, d *draft, errs problem.Fields) {
	take := func(m map[string]any, key, path string) {
		v, ok := m[key]
		if !ok {
			return
		}
		delete(m, key)
		s, isStr := v.(string)
		if !isStr {
			errs.Add(path, "must be a string")
		}
		d.Secret, d.SecretGiven, d.SecretPath = s, true, path
	}
	take(cfg, "secret", "trigger.config.secret")
	auth, ok := cfg["auth"].(map[string]any)
	if !ok {
		return
	}
	if t, _ := auth["type"].(string); d.SecretGiven && t != "" && t != AuthHMAC {
		errs.Add("trigger.config.secret", "is the hmac secret; a "+t+" trigger takes its credential in trigger.config.auth")
	}
	for _, f := range []string{"secret", "token", "password"} {
		take(auth, f, "trigger.config.auth."+f)
		delete(auth, f+"Set")
	}
}

// validateWebhook checks a webhook trigger's config; the credential is in d.Secret.
func validateWebhook(d *draft, errs problem.Fields) {
	cfg := d.Def.Trigger.Config
	c := readWebhookConfig(cfg)
	if a, ok := cfg["auth"]; ok {
		auth, isMap := a.(map[string]any)
		if !isMap {
			errs.Add("trigger.config.auth", "must be an object with type and the type's credential")
		}
		for k := range auth {
			if k != "type" && !(k == "username" && c.AuthType == AuthBasic) {
				errs.Add("trigger.config.auth."+k, "unknown field for "+c.AuthType+" authentication")
			}
		}
		if t, isStr := auth["type"].(string); !isStr || credentialField[t] == "" {
			errs.Add("trigger.config.auth.type", "must be one of hmac, bearer, basic, grafana")
			return
		}
	}
	path := d.SecretPath
	if path == "" {
		path = "trigger.config.secret"
		if _, ok := cfg["auth"]; ok {
			path = "trigger.config.auth." + credentialField[c.AuthType]
		}
	}
	if len(d.Secret) < 16 {
		use := map[string]string{AuthHMAC: "shared with the sender to sign requests (" + SignatureHeader + ")",
			AuthGrafana: "the HMAC secret set in Grafana's webhook contact point", AuthBearer: "sent as Authorization: Bearer <token>",
			AuthBasic: "sent with the username as Authorization: Basic"}[c.AuthType]
		errs.Add(path, "is required: at least 16 characters, "+use)
	}
	if c.AuthType == AuthBasic && (c.Username == "" || strings.Contains(c.Username, ":")) {
		errs.Add("trigger.config.auth.username", "is required, without a colon")
	}
	if f, ok := cfg["format"]; ok && f != FormatJSON && f != FormatForm {
		errs.Add("trigger.config.format", "must be json or form (application/x-www-form-urlencoded)")
	}
	if l, ok := cfg["legacySignature"]; ok {
		switch {
		case l != true && l != false:
			errs.Add("trigger.config.legacySignature", "must be true or false")
		case l == true && !d.WasLegacy:
			errs.Add("trigger.config.legacySignature", "can only stay true on a workflow saved before timestamped signatures; it may be set to false")
		case l == true && c.AuthType != AuthHMAC:
			errs.Add("trigger.config.legacySignature", "belongs to hmac authentication; set it to false or drop it")
		}
	}
}

// webhookView shows a webhook trigger's config with its auth type spelt out and whether its
// credential is set, never the credential.
func webhookView(cfg map[string]any, set bool) map[string]any {
	out := make(map[string]any, len(cfg)+1)
	for k, v := range cfg {
		out[k] = v
	}
	c := readWebhookConfig(cfg)
	auth := map[string]any{"type": c.AuthType, credentialField[c.AuthType] + "Set": set}
	if c.AuthType == AuthBasic {
		auth["username"] = c.Username
	}
	out["auth"] = auth
	return out
}

// Webhook starts the enabled webhook workflow key when the request is authenticated as its
// trigger says. The execution (with the body as $context.data) is stored before this returns.
func (e *Engine) Webhook(ctx context.Context, key string, body []byte, header http.Header, query url.Values) (Execution, error) {
	w, err := e.store.GetWorkflowByKey(ctx, key)
	if err != nil || !w.Enabled || w.TriggerType != TriggerWebhook {
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return Execution{}, problem.StoreError("Workflow", err)
		}
		return Execution{}, problem.Errorf(problem.CodeNotFound, "No enabled webhook workflow has the key %q.", key)
	}
	def, err := e.definition(ctx, w.ID, w.Version)
	if err != nil {
		return Execution{}, problem.StoreError("Workflow", err)
	}
	c := readWebhookConfig(def.Trigger.Config)
	dedup, refused := c.authenticate(body, header, w.WebhookSecret.Plain, e.store.Now())
	if refused != nil {
		e.opts.OnRefused(w.ID, refused.header)
		e.log.InfoContext(ctx, "webhook refused", "workflow_id", w.ID, "header", refused.header, "reason", refused.message)
		return Execution{}, problem.Errorf(problem.CodeUnauthorized, "%s", refused.message)
	}
	data, err := c.decodeBody(body)
	if err != nil {
		return Execution{}, err
	}
	if keys, ok := header[IdempotencyHeader]; ok && dedup == "" {
		if len(keys) != 1 || keys[0] == "" || utf8.RuneCountInString(keys[0]) > maxIdempotencyKey {
			return Execution{}, problem.Errorf(problem.CodeBadRequest,
				"The %s header must be given once, 1–%d characters.", IdempotencyHeader, maxIdempotencyKey)
		}
		dedup = "webhook:" + keys[0]
	}
	headers := map[string]any{}
	for k, v := range header {
		if !credentialHeader(k) {
			headers[k] = strings.Join(v, ", ")
		}
	}
	q := map[string]any{}
	for k, v := range query {
		q[k] = strings.Join(v, ",")
	}
	x, started, err := e.start(ctx, w, TriggerWebhook, map[string]any{"data": data, "headers": headers, "query": q}, dedup)
	if err != nil {
		return Execution{}, err
	}
	if !started {
		// A repeat of a call that started an execution: that execution, and nothing new.
		if x, err = e.store.ExecutionByDedup(ctx, w.ID, dedup); err != nil {
			return Execution{}, problem.StoreError("Execution", err)
		}
	}
	return executionView(x), nil
}

// credentialHeader reports the headers $context.headers leaves out: credentials and signatures.
func credentialHeader(k string) bool {
	switch k {
	case "Authorization", "Cookie", SignatureHeader, grafanaSignatureHeaders[0], grafanaSignatureHeaders[1]:
		return true
	}
	return false
}

// refusal is why a webhook call was not let in: the header at fault (a bounded set, used as a
// metric label) and the sentence the caller gets.
type refusal struct{ header, message string }

func refuse(header, format string, args ...any) *refusal {
	return &refusal{header: header, message: fmt.Sprintf(format, args...)}
}

// authenticate checks a call against the trigger's auth. For hmac it returns the dedup key that
// makes a replayed signature start nothing: the signature itself, stored with the execution.
func (c webhookConfig) authenticate(body []byte, h http.Header, secret string, now time.Time) (string, *refusal) {
	switch c.AuthType {
	case AuthBearer:
		auth := h.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		switch {
		case auth == "":
			return "", refuse("Authorization", "The Authorization header is missing: send Authorization: Bearer <token>.")
		case !ok:
			return "", refuse("Authorization", "The Authorization header must be Bearer <token>.")
		case !equalSecret(strings.TrimSpace(token), secret):
			return "", refuse("Authorization", "The Authorization header carries a wrong token.")
		}
		return "", nil
	case AuthBasic:
		user, pass, ok := (&http.Request{Header: h}).BasicAuth()
		switch {
		case h.Get("Authorization") == "":
			return "", refuse("Authorization", "The Authorization header is missing: send Authorization: Basic <base64 of username:password>.")
		case !ok:
			return "", refuse("Authorization", "The Authorization header must be Basic <base64 of username:password>.")
		case !equalSecret(user, c.Username) || !equalSecret(pass, secret):
			return "", refuse("Authorization", "The Authorization header carries a wrong username or password.")
		}
		return "", nil
	case AuthGrafana:
		return "", grafanaCheck(body, h, secret)
	}
	ts, sig := h.Get(TimestampHeader), h.Get(SignatureHeader)
	if ts == "" && c.LegacySignature && sig != "" {
		if !validSignature(sig, secret, body) {
			return "", refuse(SignatureHeader, "The %s header is wrong: it must be sha256=<hex HMAC-SHA256 of the body with the workflow's secret>.", SignatureHeader)
		}
		return "", nil
	}
	if ts == "" {
		return "", refuse(TimestampHeader, "The %s header is missing: send the unix time in seconds, and sign timestamp + \".\" + body.", TimestampHeader)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", refuse(TimestampHeader, "The %s header must be the unix time in seconds.", TimestampHeader)
	}
	if off := now.Sub(time.Unix(unix, 0)).Abs(); off > SignatureWindow {
		return "", refuse(TimestampHeader, "The %s header is %d s from now; at most %d.", TimestampHeader, int64(off/time.Second), int64(SignatureWindow/time.Second))
	}
	if sig == "" {
		return "", refuse(SignatureHeader, "The %s header is missing: send sha256=<hex HMAC-SHA256 of timestamp + \".\" + body>.", SignatureHeader)
	}
	if !validSignature(sig, secret, []byte(ts+"."), body) {
		return "", refuse(SignatureHeader, "The %s header is wrong: it must be sha256=<hex HMAC-SHA256 of timestamp + \".\" + body with the workflow's secret>.", SignatureHeader)
	}
	return "sig:" + hex.EncodeToString(mac(secret, []byte(ts+"."), body)), nil
}

// grafanaCheck verifies Grafana's signature: of the body, or of timestamp:body when Grafana
// sends a timestamp (then only that form).
func grafanaCheck(body []byte, h http.Header, secret string) *refusal {
	name, sig := firstHeader(h, grafanaSignatureHeaders)
	tsName, ts := firstHeader(h, grafanaTimestampHeaders)
	if sig == "" {
		return refuse(name, "The %s header is missing: set an HMAC secret in Grafana's webhook contact point.", name)
	}
	signed := [][]byte{body}
	what := "the body"
	if ts != "" {
		signed, what = [][]byte{[]byte(ts + ":"), body}, tsName+" + \":\" + body"
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, signed...)) {
		return refuse(name, "The %s header is wrong: it must be the hex HMAC-SHA256 of %s with the workflow's secret.", name, what)
	}
	return nil
}

// firstHeader is the first of names that h carries, with its value; the first name when none.
func firstHeader(h http.Header, names []string) (string, string) {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return n, v
		}
	}
	return names[0], ""
}

// equalSecret compares in constant time, also in the length: both sides are hashed first.
func equalSecret(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return want != "" && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func validSignature(header, secret string, signed ...[]byte) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok || secret == "" {
		return false
	}
	sig, err := hex.DecodeString(got)
	return err == nil && hmac.Equal(sig, mac(secret, signed...))
}

func mac(secret string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// Sign is the X-Wecomflow-Timestamp and X-Wecomflow-Signature of body sent at t, for webhook
// senders and tests.
func Sign(secret string, t time.Time, body []byte) (timestamp, signature string) {
	ts := strconv.FormatInt(t.Unix(), 10)
	return ts, "sha256=" + hex.EncodeToString(mac(secret, []byte(ts+"."), body))
}

// decodeBody reads the body as the trigger's format says: JSON, or a urlencoded form as an
// object (a field given more than once as a list).
func (c webhookConfig) decodeBody(body []byte) (any, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, nil
	}
	if c.Format == FormatForm {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, problem.Errorf(problem.CodeBadRequest, "The body is not a valid application/x-www-form-urlencoded form: %v.", err)
		}
		out := make(map[string]any, len(vals))
		for k, v := range vals {
			if len(v) == 1 {
				out[k] = v[0]
				continue
			}
			list := make([]any, len(v))
			for i, s := range v {
				list[i] = s
			}
			out[k] = list
		}
		return out, nil
	}
	var data any
	if err := decodeJSON(string(body), &data); err != nil {
		return nil, problem.Errorf(problem.CodeBadRequest, "The body is not valid JSON: %v.", err)
	}
	return data, nil
}
