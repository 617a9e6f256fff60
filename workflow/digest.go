package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/template"
)

// A digest's window and size are bounded: a window is a wait in the database, and the items
// travel in one job result to one message.
const (
	minDigestWindow = time.Second
	maxDigestWindow = 24 * time.Hour
	maxDigestItems  = 1000
)

// digestConfig reads a digest node's window and maxItems, saying what is wrong with each by field.
func digestConfig(cfg map[string]any) (window time.Duration, maxItems int, problems map[string]string) {
	problems = map[string]string{}
	s, _ := cfg["window"].(string)
	window, err := parseDuration(s)
	if err != nil || window < minDigestWindow || window > maxDigestWindow {
		problems["window"] = "is required: a duration from 1s to 24h, such as \"5m\""
	}
	maxItems = maxDigestItems // bounded even when not said
	if v, ok := cfg["maxItems"]; ok {
		n, whole := wholeNumber(v)
		if !whole || n < 1 || n > maxDigestItems {
			problems["maxItems"] = fmt.Sprintf("must be a whole number from 1 to %d", maxDigestItems)
		}
		maxItems = n
	}
	if v, ok := cfg["key"]; ok {
		if src, isStr := v.(string); !isStr {
			problems["key"] = "must be a string, such as \"{{$context.data.groupKey}}\""
		} else if err := template.Check(src); err != nil {
			problems["key"] = err.Error()
		}
	}
	return window, maxItems, problems
}

// wholeNumber reads a JSON number as a request (float64) or a stored definition (json.Number)
// carries it.
func wholeNumber(v any) (int, bool) {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case json.Number:
		var err error
		if f, err = v.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

// joinDigest renders the node's key and adds the execution to the open window of that key, or
// opens one. The join is written at once, apart from the step: a step that is not written (a
// crash) runs again and finds the execution already in its window.
func (r *run) joinDigest(ctx context.Context, n *Node, j *models.Job) error {
	window, maxItems, problems := digestConfig(n.Config)
	if len(problems) > 0 {
		r.end(j, models.JobError, "the node's config is invalid")
		return nil
	}
	key := str(n.Config, "key")
	if strings.Contains(key, "{{") {
		t, err := template.Parse(key)
		if err == nil {
			key, err = t.Render(r.templateVars())
		}
		if err != nil {
			r.end(j, models.JobFailed, "key: "+err.Error())
			return nil
		}
	}
	data, err := json.Marshal(r.context["data"])
	if err != nil {
		return fmt.Errorf("workflow: unable to encode the digest item: %w", err)
	}
	in, err := r.e.store.JoinDigest(ctx, models.DigestEntry{WorkflowID: r.x.WorkflowID, NodeKey: n.Key, Key: key,
		ExecutionID: r.x.ID, Data: string(data), Window: window, MaxItems: maxItems})
	if err != nil {
		return err
	}
	if !in.Opened {
		r.setResult(j, map[string]any{"digestedInto": in.Window.ExecutionID})
		r.end(j, models.JobResolved, "")
		return nil
	}
	until := in.Window.EndsAt
	j.WaitUntil = &until
	r.setResult(j, map[string]any{"key": key, "until": until.Format(time.RFC3339)})
	if in.Window.IsOpen == nil { // maxItems reached already
		return r.closeDigest(ctx, j)
	}
	return nil
}

// closeDigest closes the window the execution opened once its time is up (a window that reached
// maxItems is closed already) and resolves the job with its items.
func (r *run) closeDigest(ctx context.Context, j *models.Job) error {
	w, items, err := r.e.store.CloseDigest(ctx, r.x.ID, j.NodeKey)
	if errors.Is(err, models.ErrNotFound) {
		r.end(j, models.JobError, "the digest window is gone")
		return nil
	}
	if err != nil {
		return err
	}
	if w.IsOpen != nil {
		return nil // not yet: the runner wakes the execution at the window's end
	}
	list := make([]json.RawMessage, len(items))
	for i, it := range items {
		list[i] = json.RawMessage(it.Data)
	}
	r.setResult(j, map[string]any{"key": w.Key, "items": list, "count": len(items)})
	r.end(j, models.JobResolved, "")
	return nil
}
