// Package wecomrobot is the wecom_robot channel type: a WeCom group robot (群机器人, SPEC §9.2),
// addressed by its webhook key. It validates a robot channel's options, composes robot messages
// (mentions, images as base64 + md5, files and voices uploaded to the robot) and delivers them
// through the server's outbox, paced to WeCom's 20 messages a minute per robot.
package wecomrobot

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// Type is the type name of robot channels.
const Type = "wecom_robot"

// Options are a robot channel's options.
type Options struct {
	// WebhookKey is the key of the robot's webhook URL (write-only), or the whole URL as pasted.
	WebhookKey string `json:"webhookKey,omitempty"`
	// QuietHours, when set, defer what is due inside them (SPEC §11).
	QuietHours *plugin.QuietHours `json:"quietHours,omitempty"`
}

// keyRe is the shape of a key: WeCom hands out 8-4-4-4-12 hex; letters and digits are taken in
// case that changes.
var keyRe = regexp.MustCompile(`^[A-Za-z0-9-]{8,64}$`)

// ChannelType is the wecom_robot channel type. Its composer uploads files through clients.
type ChannelType struct {
	clients *wecom.Clients
}

// New makes the channel type over WeCom's clients.
func New(clients *wecom.Clients) ChannelType { return ChannelType{clients: clients} }

func (ChannelType) Type() string { return Type }

// AuthenticatorType: a robot needs no app; an authenticator, when named, is the corp whose
// userids its mentions use.
func (ChannelType) AuthenticatorType() (string, bool) { return wecom.Type, false }

func (ChannelType) SecretPaths() []string { return []string{"webhookKey"} }

func (ChannelType) Normalize(m map[string]any) (map[string]any, problem.Fields) {
	var o Options
	if errs := plugin.Decode(m, &o); errs != nil {
		return nil, errs
	}
	errs := problem.Fields{}
	key, err := ParseKey(o.WebhookKey)
	if err != "" {
		errs.Add("webhookKey", err)
	}
	if o.QuietHours != nil {
		o.QuietHours.Check(errs, "quietHours")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	o.WebhookKey = key
	return plugin.Encode(o), nil
}

// ParseKey takes a webhook key, or the whole webhook URL WeCom shows
// (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…), and returns the key. The URL's host
// is not kept: sends go to the server's WeCom API base, so a pasted URL cannot send the key
// anywhere else.
func ParseKey(s string) (key, problem string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "is required: the robot's webhook URL or its key (group chat → 群机器人 → the robot → 复制Webhook地址)"
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || !strings.HasSuffix(u.Path, "/cgi-bin/webhook/send") || u.Query().Get("key") == "" {
			return "", "must be the robot's webhook URL (…/cgi-bin/webhook/send?key=…) or its key"
		}
		s = u.Query().Get("key")
	}
	if !keyRe.MatchString(s) {
		return "", "is not a webhook key: 8–64 letters, digits or '-'"
	}
	return s, ""
}
