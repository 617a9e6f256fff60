package recipes

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"

	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/workflow"
)

// Recipe is a ready workflow, as GET /api/v1/recipes lists it.
type Recipe struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// Auth is the webhook authentication the tool can send: bearer, grafana or hmac.
	Auth string `json:"auth"`
	// Needs says what the install takes: the channel types and what "to" means.
	Needs string `json:"needs"`
	// Setup is what to paste into the tool, with {url} and {credential} filled in at install.
	Setup string `json:"setup"`
	// Translations are the title, description and needs in other languages, by language tag
	// ("zh-CN"); Setup is the tool's own configuration and stays as it is.
	Translations map[string]Text `json:"translations,omitempty"`
	// nodes are the workflow's nodes for a channel and recipients ("to" may be nil).
	nodes func(channel string, to any) []any
}

// Text is what a recipe says to a person in one language.
type Text struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Needs       string `json:"needs"`
}

// In is the recipe with its title, description and needs in lang, when it has them there.
func (r Recipe) In(lang string) Recipe {
	if t, ok := r.Translations[lang]; ok {
		r.Title, r.Description, r.Needs = t.Title, t.Description, t.Needs
	}
	return r
}

// Installed is the answer to an install: the workflow, where the tool calls it, and the
// credential the tool sends — shown this once; reads of the workflow only say it is set.
type Installed struct {
	Workflow   workflow.Workflow `json:"workflow"`
	WebhookURL string            `json:"webhookUrl"`
	Credential Credential        `json:"credential"`
	Setup      string            `json:"setup"`
}

// Credential is a webhook trigger's generated credential: Token for bearer, Secret for grafana
// and hmac.
type Credential struct {
	Type   string `json:"type"`
	Token  string `json:"token,omitempty"`
	Secret string `json:"secret,omitempty"`
}

// Input is an install's body: the workflow key (default the recipe's name), the channel and
// the recipients.
type Input struct {
	Key     string
	Channel string
	To      any
}

var all = []Recipe{alertmanager, grafana, uptimeKuma, approvalCard, approveOrEscalate}

// List is every recipe, in a stable order.
func List() []Recipe { return all }

// Get finds a recipe by name.
func Get(name string) (Recipe, bool) {
	for _, r := range all {
		if r.Name == name {
			return r, true
		}
	}
	return Recipe{}, false
}

// Create is the workflow creation path an install goes through.
type Create func(ctx context.Context, body map[string]any) (workflow.Workflow, error)

// Install creates the recipe's workflow with a new credential. An unknown recipe is a 404; the
// workflow's own validation answers the rest (a key in use 409, an unknown channel 422, with
// the node's fields named as the install's channel and to).
func Install(ctx context.Context, create Create, name string, in Input) (Installed, error) {
	r, ok := Get(name)
	if !ok {
		return Installed{}, problem.Errorf(problem.CodeNotFound, "There is no recipe %q; GET /api/v1/recipes lists them.", name)
	}
	errs := problem.Fields{}
	if in.Channel == "" {
		errs.Add("channel", "is required: the name of a wecom or wecom_robot channel")
	}
	if in.To != nil {
		if _, ok := in.To.(map[string]any); !ok {
			errs.Add("to", "must be an object such as {\"users\": [\"zhangsan\"]}")
		}
	}
	if len(errs) > 0 {
		return Installed{}, problem.Invalid(errs)
	}
	if in.Key == "" {
		in.Key = r.Name
	}
	secret, err := newCredential()
	if err != nil {
		return Installed{}, err
	}
	cred := Credential{Type: r.Auth, Secret: secret}
	field := "secret"
	if r.Auth == workflow.AuthBearer {
		cred, field = Credential{Type: r.Auth, Token: secret}, "token"
	}
	body := map[string]any{"key": in.Key, "title": r.Title,
		"trigger": map[string]any{"type": "webhook", "config": map[string]any{"auth": map[string]any{"type": r.Auth, field: secret}}},
		"nodes":   r.nodes(in.Channel, in.To)}
	w, err := create(ctx, body)
	if err != nil {
		return Installed{}, installFields(err)
	}
	setup := strings.NewReplacer("{url}", w.WebhookURL, "{credential}", secret).Replace(r.Setup)
	return Installed{Workflow: w, WebhookURL: w.WebhookURL, Credential: cred, Setup: setup}, nil
}

// installFields names a node's channel and to problems as the install's own fields, which is
// what the caller gave; the code (422, or 409 for a key in use) stays.
func installFields(err error) error {
	pe, ok := err.(*problem.Error)
	if !ok || len(pe.Fields) == 0 {
		return err
	}
	fields := problem.Fields{}
	for path, msg := range pe.Fields {
		if _, rest, found := strings.Cut(path, ".config."); found && strings.HasPrefix(path, "nodes.") {
			if head, _, _ := strings.Cut(rest, "."); head == "channel" || head == "to" {
				path = rest
			}
		}
		fields.Add(path, msg)
	}
	out := *pe
	out.Fields = fields
	if out.Code == problem.CodeValidation {
		out.Message = "Some fields are not valid: " + fields.String()
	}
	return &out
}

// newCredential is 32 random characters, URL-safe so that it pastes into any config file.
func newCredential() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// notify is a notification node; to is left out when not given (a robot's group is its
// audience).
func notify(key, channel string, to any, msgtype string, body map[string]any) map[string]any {
	cfg := map[string]any{"channel": channel, "msgtype": msgtype, msgtype: body}
	if to != nil {
		cfg["to"] = to
	}
	return map[string]any{"key": key, "type": "notification", "config": cfg}
}
