package workflow

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/problem"
)

// Trigger types (SPEC §4.2).
const (
	TriggerManual     = "manual"
	TriggerWebhook    = "webhook"
	TriggerSchedule   = "schedule"
	TriggerWeComEvent = "wecom_event"
)

// TriggerTypes lists every trigger type.
func TriggerTypes() []string {
	return []string{TriggerManual, TriggerWebhook, TriggerSchedule, TriggerWeComEvent}
}

// Node types (SPEC §4.3).
const (
	NodeNotification = "notification"
	NodeCondition    = "condition"
	NodeDelay        = "delay"
	NodeEnd          = "end"
	// NodeChat creates an app group chat (SPEC §9.3); its result is {"chatid": …}.
	NodeChat = "chat"
	// NodeDigest gathers the executions that reach it with one key within a window into the first
	// (SPEC §11).
	NodeDigest = "digest"
)

// ChatSpec is what a chat node asks for, its templates rendered: owner and users are local
// userids.
type ChatSpec struct {
	Channel, Name, Owner, ChatID string
	Users                        []string
}

// Definition is what runs: the trigger, the nodes, and an optional time limit. An execution
// runs the Definition of the version it started with.
type Definition struct {
	Trigger Trigger `json:"trigger"`
	Nodes   []Node  `json:"nodes"`
	// Timeout, when set, aborts an execution still unfinished this long after it was created.
	Timeout string `json:"timeout,omitempty"`
}

// Trigger starts executions. Config holds no secret: the webhook secret is kept sealed apart.
type Trigger struct {
	Type   string         `json:"type"`
	Config map[string]any `json:"config"`
}

// Node is one step. Only condition nodes have branches ("true" and "false").
type Node struct {
	Key      string            `json:"key"`
	Type     string            `json:"type"`
	Title    string            `json:"title,omitempty"`
	Config   map[string]any    `json:"config"`
	Branches map[string][]Node `json:"branches,omitempty"`
}

var keyPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// decodeNodes reads a JSON node list, reporting shape problems by path; node keys are checked
// later, by validate.
func decodeNodes(raw any, path string, errs problem.Fields) []Node {
	list, ok := raw.([]any)
	if !ok {
		if raw != nil {
			errs.Add(path, "must be a list of nodes")
		}
		return nil
	}
	out := make([]Node, 0, len(list))
	for i, item := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		m, ok := item.(map[string]any)
		if !ok {
			errs.Add(p, "must be an object with key, type and config")
			continue
		}
		n := Node{}
		for k, v := range m {
			switch k {
			case "key", "type", "title":
				// Said here: a number would otherwise pass as "" (a missing key, an unknown type)
				// or, for the title, vanish without a word.
				s, isStr := v.(string)
				if !isStr && v != nil {
					errs.Add(p+"."+k, "must be a string")
				}
				switch k {
				case "key":
					n.Key = s
				case "type":
					n.Type = s
				default:
					n.Title = s
				}
			case "config":
				if v != nil {
					if n.Config, ok = v.(map[string]any); !ok {
						errs.Add(p+".config", "must be an object")
					}
				}
			case "branches":
				b, ok := v.(map[string]any)
				if !ok {
					if v != nil {
						errs.Add(p+".branches", "must be an object with true and false lists")
					}
					continue
				}
				n.Branches = map[string][]Node{}
				for bk, bv := range b {
					if bk != "true" && bk != "false" {
						errs.Add(p+".branches."+bk, "unknown branch: a condition has true and false")
						continue
					}
					n.Branches[bk] = decodeNodes(bv, p+".branches."+bk, errs)
				}
			default:
				errs.Add(p+"."+k, "unknown field")
			}
		}
		if n.Config == nil {
			n.Config = map[string]any{}
		}
		out = append(out, n)
	}
	return out
}

// parseDuration reads "10m", "24h", "1h30m" or a whole number of days like "7d".
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err == nil && fmt.Sprint(n) == d {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}

// walk calls fn for every node, depth first in run order, with its JSON path.
func walk(nodes []Node, path string, fn func(n *Node, path string)) {
	for i := range nodes {
		p := fmt.Sprintf("%s[%d]", path, i)
		fn(&nodes[i], p)
		for _, b := range []string{"true", "false"} {
			walk(nodes[i].Branches[b], p+".branches."+b, fn)
		}
	}
}

func (d *Definition) encode() string {
	raw, _ := json.Marshal(d)
	return string(raw)
}
