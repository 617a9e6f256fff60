package service

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// BulkRow is one element of the users/bulk body, the shape unified messaging services use:
// {"userid": "zhangsan", "set": {"wechatwk": "zhangsan", "name": "张三"}}.
type BulkRow struct {
	UserID string                     `json:"userid"`
	Set    map[string]json.RawMessage `json:"set"`
}

// RowFailure is one row that was not saved; Index (bulk, from 0) or Row (import, as the
// spreadsheet numbers it) says which.
type RowFailure struct {
	Index   *int   `json:"index,omitempty"`
	Row     *int   `json:"row,omitempty"`
	UserID  string `json:"userid"`
	Message string `json:"message"`
}

// BulkResult is what a bulk upsert or an import did.
type BulkResult struct {
	Created int          `json:"created"`
	Updated int          `json:"updated"`
	Failed  []RowFailure `json:"failed"`
}

// BulkUpsertUsers upserts the rows that are valid and reports the others by index; one bad row
// never blocks the others. A userid repeated in the body is merged, later fields winning.
func (s *Service) BulkUpsertUsers(ctx context.Context, rows []json.RawMessage) (BulkResult, error) {
	changes := make([]models.UserChange, 0, len(rows))
	var failed []RowFailure
	for i, raw := range rows {
		c, errs := parseBulkRow(raw)
		if len(errs) > 0 {
			idx := i
			failed = append(failed, RowFailure{Index: &idx, UserID: c.UserID, Message: errs.String()})
			continue
		}
		changes = append(changes, c)
	}
	return s.upsert(ctx, "user.bulk", "", changes, failed, models.SourceManual)
}

// upsert writes the valid rows as one audited change (action, with the file's name for an
// import): one entry with the counts, failed rows included.
func (s *Service) upsert(ctx context.Context, action, name string, changes []models.UserChange, failed []RowFailure, source string) (BulkResult, error) {
	e := access.Entry(ctx, action, access.Target{Type: "user", Name: name}, nil)
	e.Counts = fmt.Sprintf(`{"failed": %d}`, len(failed))
	ctx = models.WithAudit(ctx, e)
	res, err := s.store.UpsertUsers(ctx, mergeChanges(changes), source)
	if err != nil {
		return BulkResult{}, problem.StoreError("User", err)
	}
	if failed == nil {
		failed = []RowFailure{}
	}
	s.log.InfoContext(ctx, "users upserted", "source", source, "created", res.Created, "updated", res.Updated, "failed", len(failed))
	return BulkResult{Created: res.Created, Updated: res.Updated, Failed: failed}, nil
}

func parseBulkRow(raw json.RawMessage) (models.UserChange, problem.Fields) {
	errs := problem.Fields{}
	var row BulkRow
	if err := json.Unmarshal(raw, &row); err != nil {
		errs.Add("", "must be an object {\"userid\": \"…\", \"set\": {…}}")
		return models.UserChange{}, errs
	}
	c := models.UserChange{UserID: row.UserID}
	for k, v := range row.Set {
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			errs.Add("set."+k, "must be a string")
			continue
		}
		switch k {
		case "name":
			c.Name = &str
		case "mobile":
			c.Mobile = &str
		case "email":
			c.Email = &str
		case "wechatwk":
			c.WeChatWK = &str
		default:
			errs.Add("set."+k, "unknown field (known: wechatwk, name, mobile, email)")
		}
	}
	validateUserChange(c, userBulkPaths, errs)
	// The store writes set fields only; "wechatwk" in a set renames the binding.
	if c.WeChatWK != nil && *c.WeChatWK == "" {
		errs.Add("set.wechatwk", "must not be empty")
	}
	return c, errs
}

// mergeChanges folds repeated userids into one change (later fields win), keeping first-seen order.
func mergeChanges(changes []models.UserChange) []models.UserChange {
	pos := make(map[string]int, len(changes))
	out := make([]models.UserChange, 0, len(changes))
	for _, c := range changes {
		i, seen := pos[c.UserID]
		if !seen {
			pos[c.UserID] = len(out)
			out = append(out, c)
			continue
		}
		m := &out[i]
		for _, f := range []struct{ dst, src **string }{{&m.Name, &c.Name}, {&m.Mobile, &c.Mobile}, {&m.Email, &c.Email}, {&m.WeChatWK, &c.WeChatWK}} {
			if *f.src != nil {
				*f.dst = *f.src
			}
		}
	}
	return out
}
