package workflow

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wecomflow/wecomflow/models"
)

// TemplateUsers returns what finds the enabled workflows whose current version has a
// notification node naming a saved template, by key: the message service's guard against
// deleting or renaming a template in use. Workflows are few, so it reads them all.
func TemplateUsers(store *models.Store) func(ctx context.Context, name string) ([]string, error) {
	return func(ctx context.Context, name string) ([]string, error) {
		wfs, err := store.EnabledWorkflows(ctx, "")
		if err != nil {
			return nil, err
		}
		var keys []string
		for _, w := range wfs {
			var d Definition
			if err := json.Unmarshal([]byte(w.Definition), &d); err != nil {
				return nil, fmt.Errorf("workflow: stored definition of %d is unreadable: %w", w.ID, err)
			}
			if usesTemplate(d.Nodes, name) {
				keys = append(keys, w.Key)
			}
		}
		return keys, nil
	}
}

// usesTemplate reports whether a notification node among nodes, branches included, names the
// template.
func usesTemplate(nodes []Node, name string) bool {
	for _, n := range nodes {
		if t, _ := n.Config["template"].(string); n.Type == NodeNotification && t == name {
			return true
		}
		for _, b := range n.Branches {
			if usesTemplate(b, name) {
				return true
			}
		}
	}
	return false
}
