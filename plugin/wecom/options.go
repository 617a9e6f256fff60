package wecom

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/worker"
)

// Type is the type name of WeCom authenticators and channels.
const Type = "wecom"

// Options are a WeCom authenticator's options: one self-built app of one corp.
type Options struct {
	CorpID           string           `json:"corpId"`
	AgentID          int64            `json:"agentId"`
	Secret           string           `json:"secret,omitempty"`
	APIBaseURL       string           `json:"apiBaseUrl"`
	Origin           string           `json:"origin"`
	Callback         *CallbackOptions `json:"callback,omitempty"`
	ContactsCallback *CallbackOptions `json:"contactsCallback,omitempty"`
	Sync             SyncOptions      `json:"sync"`
	Login            LoginOptions     `json:"login"`
	// ExternalContact holds the 客户联系 secret: customer mass messaging (SPEC §9.5) calls the
	// externalcontact APIs, which accept no other secret.
	ExternalContact ExternalContactOptions `json:"externalContact"`
	// DailyQuota caps the app's person-sends per day (WeCom allows seats × 200); past it messages
	// wait for the next day instead of failing. 0 = no cap of ours.
	DailyQuota int `json:"dailyQuota"`
	// Seats is the corp's licensed account count (企业人数上限); WeCom blocks a day of lookups by
	// mobile or email once their failures pass 20% of it (SPEC §9.4). 0 = take the synced
	// directory's member count, which is never more.
	Seats int `json:"seats"`
}

// CallbackOptions are the Token and EncodingAESKey of one message-reception URL.
type CallbackOptions struct {
	Token          string `json:"token,omitempty"`
	EncodingAESKey string `json:"encodingAesKey,omitempty"`
}

// SyncOptions configure directory sync.
type SyncOptions struct {
	Enabled         bool   `json:"enabled"`
	Schedule        string `json:"schedule"`
	ContactSecret   string `json:"contactSecret,omitempty"`
	AutoCreateUsers bool   `json:"autoCreateUsers"`
}

// ExternalContactOptions configure the 客户联系 (customer contact) API access.
type ExternalContactOptions struct {
	Secret string `json:"secret,omitempty"`
}

// LoginOptions configure signing in with WeCom through the authenticator's app (SPEC §8.4).
type LoginOptions struct {
	Enabled bool `json:"enabled"`
	// AutoSignUp creates an account, with DefaultRole, for a member who has none.
	AutoSignUp  bool   `json:"autoSignUp"`
	DefaultRole string `json:"defaultRole"`
	// AutoLogin sends a /ui/ page opened inside WeCom without a session straight to this sign-in.
	AutoLogin bool `json:"autoLogin"`
}

// loginRoles are the roles an account may get (SPEC §8.1); "viewer" is the default.
var loginRoles = []string{"admin", "designer", "operator", "viewer"}

var (
	tokenRe  = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)
	aesKeyRe = regexp.MustCompile(`^[A-Za-z0-9]{43}$`)
	corpIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// AuthenticatorType validates WeCom authenticator options.
type AuthenticatorType struct{}

func (AuthenticatorType) Type() string { return Type }

func (AuthenticatorType) SecretPaths() []string {
	return []string{"secret", "callback.token", "callback.encodingAesKey",
		"contactsCallback.token", "contactsCallback.encodingAesKey", "sync.contactSecret", "externalContact.secret"}
}

// HostBinding: the app secret, the contacts secret and the 客户联系 secret go to apiBaseUrl
// (gettoken's corpsecret); the callback Token and EncodingAESKey never leave the server, so they
// stay.
func (AuthenticatorType) HostBinding() (string, []string) {
	return "apiBaseUrl", []string{"secret", "sync.contactSecret", "externalContact.secret"}
}

func (AuthenticatorType) Normalize(m map[string]any) (map[string]any, problem.Fields) {
	var o Options
	if errs := plugin.Decode(m, &o); errs != nil {
		return nil, errs
	}
	errs := problem.Fields{}
	switch {
	case o.CorpID == "":
		errs.Add("corpId", "is required (我的企业 → 企业信息 → 企业ID)")
	case !corpIDRe.MatchString(o.CorpID):
		errs.Add("corpId", "must be letters, digits, '_' or '-', at most 64")
	}
	if o.AgentID <= 0 {
		errs.Add("agentId", "must be a positive integer (应用管理 → the app → AgentId)")
	}
	if o.Secret == "" {
		errs.Add("secret", "is required (应用管理 → the app → Secret)")
	}
	checkURL(errs, "apiBaseUrl", o.APIBaseURL)
	checkURL(errs, "origin", o.Origin)
	checkCallback(errs, "callback", o.Callback)
	checkCallback(errs, "contactsCallback", o.ContactsCallback)
	if o.DailyQuota < 0 {
		errs.Add("dailyQuota", "must be 0 (no cap) or a positive number of person-sends per day")
	}
	if o.Seats < 0 {
		errs.Add("seats", "must be 0 (count the synced directory) or the corp's licensed account count")
	}
	checkLogin(errs, &o.Login)
	if o.Sync.Schedule != "" {
		if _, err := worker.ParseSchedule(o.Sync.Schedule, time.UTC); err != nil {
			errs.Add("sync.schedule", "is not a valid cron spec (5 fields or @every 6h): "+err.Error())
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return plugin.Encode(o), nil
}

// checkLogin defaults the role and refuses switches that would do nothing with sign-in off: an
// admin who ticks autoLogin alone should learn that sign-in is not on.
func checkLogin(errs problem.Fields, l *LoginOptions) {
	if l.DefaultRole == "" {
		l.DefaultRole = "viewer"
	}
	if !slices.Contains(loginRoles, l.DefaultRole) {
		errs.Add("login.defaultRole", "must be one of "+strings.Join(loginRoles, ", "))
	}
	if l.AutoSignUp && !l.Enabled {
		errs.Add("login.autoSignUp", "needs login.enabled")
	}
	if l.AutoLogin && !l.Enabled {
		errs.Add("login.autoLogin", "needs login.enabled")
	}
}

func checkURL(errs problem.Fields, path, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs.Add(path, "must be an http(s) URL")
	}
}

// checkCallback accepts an absent callback (not configured) or a complete one; half of one would
// make every WeCom call fail verification.
func checkCallback(errs problem.Fields, path string, c *CallbackOptions) {
	if c == nil || (c.Token == "" && c.EncodingAESKey == "") {
		return
	}
	if !tokenRe.MatchString(c.Token) {
		errs.Add(path+".token", "must be 1–32 letters or digits")
	}
	if !aesKeyRe.MatchString(c.EncodingAESKey) {
		errs.Add(path+".encodingAesKey", "must be exactly 43 letters or digits")
	}
}

// HasCallback reports whether the app's message-reception URL is configured, which interactive
// cards need.
func (o Options) HasCallback() bool {
	return o.Callback != nil && o.Callback.Token != "" && o.Callback.EncodingAESKey != ""
}

// ChannelOptions are a WeCom channel's send options.
type ChannelOptions struct {
	// Safe is WeCom's "safe" flag: 1 marks messages confidential (no forwarding, watermark).
	Safe          int  `json:"safe"`
	EnableIDTrans bool `json:"enableIdTrans"`
	// DuplicateCheckInterval is WeCom's duplicate_check_interval in seconds; 0 means WeCom's default.
	DuplicateCheckInterval int `json:"duplicateCheckInterval"`
	// QuietHours, when set, defer what is due inside them (SPEC §11).
	QuietHours *plugin.QuietHours `json:"quietHours,omitempty"`
}

// ChannelType validates WeCom channel options.
type ChannelType struct{}

func (ChannelType) Type() string                      { return Type }
func (ChannelType) AuthenticatorType() (string, bool) { return Type, true }
func (ChannelType) SecretPaths() []string             { return nil }

func (ChannelType) Normalize(m map[string]any) (map[string]any, problem.Fields) {
	o := ChannelOptions{DuplicateCheckInterval: 1800}
	if errs := plugin.Decode(m, &o); errs != nil {
		return nil, errs
	}
	errs := problem.Fields{}
	if o.Safe != 0 && o.Safe != 1 {
		errs.Add("safe", "must be 0 or 1")
	}
	if o.DuplicateCheckInterval < 0 || o.DuplicateCheckInterval > 4*3600 {
		errs.Add("duplicateCheckInterval", "must be between 0 and 14400 seconds (WeCom allows at most 4 hours)")
	}
	if o.QuietHours != nil {
		o.QuietHours.Check(errs, "quietHours")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return plugin.Encode(o), nil
}
