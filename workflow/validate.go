package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/template"
	"github.com/wecomflow/wecomflow/worker"
)

// Notification config fields that belong to the node, not to the message.
var nodeFields = []string{"waitForDelivery", "ignoreFail", "waitForResponse"}

// draft is a workflow being saved.
type draft struct {
	Key, Title string
	Enabled    bool
	Def        Definition
	// Secret is the webhook's credential (hmac or grafana secret, bearer token, basic
	// password); kept when an update does not give one and keeps the auth type.
	Secret string
	// SecretGiven says the request gave Secret, at SecretPath.
	SecretGiven bool
	SecretPath  string
	// PrevAuth is the stored auth type ("" for none); WasLegacy whether the stored trigger
	// accepts the body-only signature.
	PrevAuth  string
	WasLegacy bool
}

// validate checks everything about a draft that can be known before it runs. Node problems are
// reported under "nodes.<key>.…", so the message names the node; a node whose key is itself the
// problem is named by its position.
func (e *Engine) validate(ctx context.Context, d *draft, errs problem.Fields) error {
	if !keyPattern.MatchString(d.Key) {
		errs.Add("key", "is required: 1–64 letters, digits, _ or -, starting with a letter (it names the webhook URL)")
	}
	if d.Title == "" || len([]rune(d.Title)) > 255 {
		errs.Add("title", "is required, at most 255 characters")
	}
	if d.Def.Timeout != "" {
		if t, err := parseDuration(d.Def.Timeout); err != nil || t <= 0 {
			errs.Add("timeout", "must be a positive duration such as \"72h\" or \"7d\"")
		}
	}
	if err := e.validateTrigger(ctx, d, errs); err != nil {
		return err
	}
	if len(d.Def.Nodes) == 0 {
		errs.Add("nodes", "must hold at least one node")
	}
	seen := map[string]int{}
	walk(d.Def.Nodes, "nodes", func(n *Node, _ string) { seen[n.Key]++ })
	var err error
	walk(d.Def.Nodes, "nodes", func(n *Node, path string) {
		prefix := path
		switch {
		case !keyPattern.MatchString(n.Key):
			errs.Add(path+".key", "is required: 1–64 letters, digits, _ or -, starting with a letter")
		case seen[n.Key] > 1:
			errs.Add(path+".key", fmt.Sprintf("%q is used by %d nodes; keys must be unique", n.Key, seen[n.Key]))
		default:
			prefix = "nodes." + n.Key
		}
		if n.Branches != nil && n.Type != NodeCondition {
			errs.Add(prefix+".branches", "only condition nodes have branches")
		}
		if e2 := e.validateNode(ctx, n, prefix, seen, errs); e2 != nil && err == nil {
			err = e2
		}
	})
	return err
}

func (e *Engine) validateTrigger(ctx context.Context, d *draft, errs problem.Fields) error {
	t := d.Def.Trigger
	cfg := t.Config
	known := map[string][]string{TriggerManual: nil, TriggerWebhook: {"auth", "format", "legacySignature"}, TriggerSchedule: {"cron", "timezone", "data"},
		TriggerWeComEvent: {"authenticator", "events", "expression"}}
	fields, ok := known[t.Type]
	if !ok {
		errs.Add("trigger.type", "must be one of manual, webhook, schedule, wecom_event")
		return nil
	}
	for k := range cfg {
		if !slices.Contains(fields, k) {
			errs.Add("trigger.config."+k, "unknown field for a "+t.Type+" trigger")
		}
	}
	switch t.Type {
	case TriggerWebhook:
		validateWebhook(d, errs)
	case TriggerSchedule:
		spec, _ := cfg["cron"].(string)
		if _, err := worker.ParseSchedule(spec, time.UTC); err != nil || spec == "" {
			errs.Add("trigger.config.cron", "must be a cron spec of 5 fields (\"0 9 * * 1-5\") or a descriptor (\"@daily\", \"@every 10m\")"+reason(err))
		}
		if tz, ok := cfg["timezone"]; ok {
			name, isStr := tz.(string)
			if _, err := time.LoadLocation(name); !isStr || err != nil || name == "" {
				errs.Add("trigger.config.timezone", "must be an IANA time zone such as \"Asia/Shanghai\"")
			}
		}
	case TriggerWeComEvent:
		name, _ := cfg["authenticator"].(string)
		if name == "" {
			errs.Add("trigger.config.authenticator", "is required: the name of the authenticator whose callbacks start the workflow")
		} else if _, err := e.store.GetAuthenticatorByName(ctx, name); errors.Is(err, models.ErrNotFound) {
			errs.Add("trigger.config.authenticator", fmt.Sprintf("no authenticator is named %q", name))
		} else if err != nil {
			return fmt.Errorf("workflow: unable to read authenticator: %w", err)
		}
		if evs := stringList(cfg["events"]); len(evs) == 0 {
			errs.Add("trigger.config.events", "must list the events or message types that start the workflow, e.g. [\"template_card_event\", \"change_contact\", \"text\"]")
		}
		if x, ok := cfg["expression"]; ok && x != nil {
			src, isStr := x.(string)
			if !isStr {
				errs.Add("trigger.config.expression", "must be a string")
			} else if _, err := CompileExpression(src); err != nil && src != "" {
				errs.Add("trigger.config.expression", err.Error())
			}
		}
	}
	return nil
}

func reason(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

func (e *Engine) validateNode(ctx context.Context, n *Node, prefix string, keys map[string]int, errs problem.Fields) error {
	cfg := n.Config
	at := prefix + ".config."
	only := func(fields ...string) {
		for k := range cfg {
			if !slices.Contains(fields, k) {
				errs.Add(at+k, "unknown field for a node of type "+n.Type)
			}
		}
	}
	switch n.Type {
	case NodeCondition:
		only("expression")
		src, _ := cfg["expression"].(string)
		if src == "" {
			errs.Add(at+"expression", "is required, e.g. $context.data.amount > 1000")
		} else if x, err := CompileExpression(src); err != nil {
			errs.Add(at+"expression", err.Error())
		} else {
			// A misspelt node key would only fail the run, as "cannot fetch … from <nil>".
			checkJobRefs(x.JobKeys(), at, keys, errs)
		}
	case NodeDelay:
		only("duration")
		s, _ := cfg["duration"].(string)
		validateDuration(s, at, "duration", "must be a positive duration such as \"10m\", \"24h\" or \"7d\", or a variable", keys, errs)
	case NodeEnd:
		only("status")
		if st, ok := cfg["status"]; ok && st != models.ExecutionResolved && st != models.ExecutionFailed {
			errs.Add(at+"status", "must be resolved or failed")
		}
	case NodeNotification:
		return e.validateNotification(ctx, n, at, keys, errs)
	case NodeDigest:
		only("window", "key", "maxItems")
		_, _, problems := digestConfig(cfg)
		for k, v := range problems {
			errs.Add(at+k, v)
		}
		checkJobRefs(jobRefs(cfg["key"]), at, keys, errs)
	case NodeChat:
		only("channel", "name", "owner", "users", "chatid")
		if s, _ := cfg["channel"].(string); s == "" {
			errs.Add(at+"channel", "is required: the name of a wecom channel")
		}
		if cfg["users"] == nil {
			errs.Add(at+"users", "is required: the local userids of at least 2 members")
		}
		for _, k := range []string{"name", "owner", "chatid"} {
			if v, ok := cfg[k]; ok {
				if _, isStr := v.(string); !isStr {
					errs.Add(at+k, "must be a string")
				}
			}
		}
		checkJobRefs(jobRefs(cfg), at, keys, errs)
	default:
		errs.Add(prefix+".type", "must be one of notification, condition, delay, end, chat, digest")
	}
	return nil
}

func (e *Engine) validateNotification(ctx context.Context, n *Node, at string, keys map[string]int, errs problem.Fields) error {
	cfg := n.Config
	for _, k := range []string{"waitForDelivery", "ignoreFail"} {
		if v, ok := cfg[k]; ok {
			if _, isBool := v.(bool); !isBool {
				errs.Add(at+k, "must be true or false")
			}
		}
	}
	body := messageBody(cfg)
	// The message of a saved template the node names: what can be clicked, which nodes it reads.
	full, err := e.messages.ExpandTemplate(ctx, body)
	if err != nil {
		return err
	}
	if w, ok := cfg["waitForResponse"]; ok && w != nil {
		wr, isMap := w.(map[string]any)
		if !isMap {
			errs.Add(at+"waitForResponse", "must be an object with timeout, replaceName and remind")
		} else {
			for k := range wr {
				if k != "timeout" && k != "replaceName" && k != "remind" {
					errs.Add(at+"waitForResponse."+k, "unknown field")
				}
			}
			if rm, ok := wr["remind"]; ok {
				validateRemind(rm, at, keys, errs)
			}
			s, _ := wr["timeout"].(string)
			validateDuration(s, at, "waitForResponse.timeout", "is required: how long to wait for a click, such as \"24h\"", keys, errs)
			if rn, ok := wr["replaceName"]; ok {
				if name, isStr := rn.(string); !isStr || name == "" || len([]rune(name)) > 10 {
					errs.Add(at+"waitForResponse.replaceName", "must be the button text to show after a click, 1–10 characters")
				}
			}
			if !message.IsInteractive(full) {
				errs.Add(at+"waitForResponse", "needs an interactive template card (button_interaction, vote_interaction or multiple_interaction): nothing else can be clicked")
			}
		}
	}
	problems, err := e.messages.Check(ctx, body)
	if err != nil {
		return err
	}
	for k, v := range problems {
		errs.Add(at+k, v)
	}
	checkJobRefs(jobRefs(full), at, keys, errs)
	return nil
}

// checkJobRefs reports each node key read through $jobs that no node has, under the node's config.
// validateDuration checks a duration field that may be a variable (a delay's duration, a card's
// timeout): a positive duration, or a template whose value is only known when the node runs.
func validateDuration(s, at, field, hint string, keys map[string]int, errs problem.Fields) {
	if !strings.Contains(s, "{{") {
		if d, err := parseDuration(s); err != nil || d <= 0 {
			errs.Add(at+field, hint)
		}
		return
	}
	if err := template.Check(s); err != nil {
		errs.Add(at+field, err.Error())
	}
	checkJobRefs(jobRefs(s), at, keys, errs)
}

func checkJobRefs(refs []string, at string, keys map[string]int, errs problem.Fields) {
	for _, p := range refs {
		if keys[p] == 0 {
			errs.Add(strings.TrimSuffix(at, "."), fmt.Sprintf("reads $jobs.%s, but no node has the key %q", p, p))
		}
	}
}

// messageBody is a notification node's config without the node's own fields: the message.
func messageBody(cfg map[string]any) map[string]any {
	body := make(map[string]any, len(cfg))
	for k, v := range cfg {
		if !slices.Contains(nodeFields, k) {
			body[k] = v
		}
	}
	return body
}

// jobRefs are the node keys that the templates in v read through $jobs.
func jobRefs(v any) []string {
	var out []string
	var visit func(v any)
	visit = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				visit(e)
			}
		case []any:
			for _, e := range v {
				visit(e)
			}
		case string:
			if !strings.Contains(v, "$jobs") {
				return
			}
			t, err := template.Parse(v)
			if err != nil {
				return
			}
			for _, p := range t.Variables() {
				if rest, ok := strings.CutPrefix(p, "$jobs."); ok {
					key, _, _ := strings.Cut(rest, ".")
					out = append(out, key)
				}
			}
		}
	}
	visit(v)
	return out
}

func stringList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		if s, ok := e.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}
