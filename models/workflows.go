package models

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Workflow is a workflow definition as last saved. Every save bumps Version and stores the
// definition again as a WorkflowVersion, which is what executions run.
type Workflow struct {
	ID      uint64 `gorm:"primaryKey"`
	Key     string `gorm:"size:64;not null;uniqueIndex"`
	Title   string `gorm:"size:255;not null"`
	Enabled bool   `gorm:"not null;index:idx_workflows_enabled"`
	Version int    `gorm:"not null"`
	// TriggerType is indexed: the webhook, schedule and event triggers look workflows up by it.
	TriggerType string `gorm:"size:16;not null;index"`
	// Definition is the JSON of trigger (without its secret), nodes and timeout.
	Definition string `gorm:"type:mediumtext;not null"`
	// WebhookSecret signs a webhook trigger's requests; write-only, sealed.
	WebhookSecret Secret
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// WorkflowVersion is one saved version of a workflow's definition; executions point at it.
type WorkflowVersion struct {
	WorkflowID uint64 `gorm:"primaryKey;autoIncrement:false"`
	Version    int    `gorm:"primaryKey;autoIncrement:false"`
	Definition string `gorm:"type:mediumtext;not null"`
	CreatedAt  time.Time
}

// SaveWorkflow creates w (ID 0) or replaces its definition, bumping Version, and stores the new
// version alongside in one transaction.
func (s *Store) SaveWorkflow(ctx context.Context, w *Workflow) error {
	defer s.wfCache.drop()
	return s.audited(ctx, &w.ID, func(tx *gorm.DB) error {
		now := s.Now()
		w.UpdatedAt = now
		if w.ID == 0 {
			w.Version, w.CreatedAt = 1, now
			if err := tx.Create(w).Error; err != nil {
				return fmt.Errorf("store: unable to create workflow: %w", duplicate(err))
			}
		} else {
			var cur Workflow
			if err := lockForUpdate(tx, s.Dialect).Select("id", "version", "created_at").Where("id = ?", w.ID).Take(&cur).Error; err != nil {
				return fmt.Errorf("store: unable to update workflow: %w", notFound(err))
			}
			w.Version, w.CreatedAt = cur.Version+1, cur.CreatedAt
			if err := tx.Select("*").Save(w).Error; err != nil {
				return fmt.Errorf("store: unable to update workflow: %w", duplicate(err))
			}
		}
		v := WorkflowVersion{WorkflowID: w.ID, Version: w.Version, Definition: w.Definition, CreatedAt: now}
		if err := tx.Create(&v).Error; err != nil {
			return fmt.Errorf("store: unable to store workflow version: %w", err)
		}
		return nil
	})
}

// GetWorkflow reads a workflow by id.
func (s *Store) GetWorkflow(ctx context.Context, id uint64) (*Workflow, error) {
	return get[Workflow](ctx, s.Read, "workflow", "id = ?", id)
}

// GetWorkflowByKey reads a workflow by its key.
func (s *Store) GetWorkflowByKey(ctx context.Context, key string) (*Workflow, error) {
	return get[Workflow](ctx, s.Read, "workflow", "`key` = ?", key)
}

// WorkflowFilter narrows the workflow list.
type WorkflowFilter struct {
	Q           string
	TriggerType string
	Enabled     *bool
}

// ListWorkflows pages through workflows by id.
func (s *Store) ListWorkflows(ctx context.Context, f WorkflowFilter, p Page) ([]Workflow, int64, error) {
	return list[Workflow](ctx, s.Read, "workflows", p, func(q *gorm.DB) *gorm.DB {
		if f.Q != "" {
			q = q.Where("(LOWER(`key`) LIKE ? ESCAPE '!' OR LOWER(title) LIKE ? ESCAPE '!')", likeQ(f.Q), likeQ(f.Q))
		}
		if f.TriggerType != "" {
			q = q.Where("trigger_type = ?", f.TriggerType)
		}
		if f.Enabled != nil {
			q = q.Where("enabled = ?", *f.Enabled)
		}
		return q
	})
}

// EnabledWorkflows lists the enabled workflows with a trigger type ("": every one).
func (s *Store) EnabledWorkflows(ctx context.Context, triggerType string) ([]Workflow, error) {
	var out []Workflow
	q := s.Read.WithContext(ctx).Where("enabled = ?", true)
	if triggerType != "" {
		q = q.Where("trigger_type = ?", triggerType)
	}
	if err := q.Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list workflows: %w", err)
	}
	return out, nil
}

// workflowCacheTTL is how long RecentEnabledWorkflows reuses a read.
const workflowCacheTTL = time.Second

// RecentEnabledWorkflows is EnabledWorkflows as read within the last workflowCacheTTL, for the
// callback processor: every event is checked against the wecom_event workflows, and a read per
// event was a quarter of the server's CPU under a burst of callbacks. A workflow saved through
// this store is seen at once, one saved on another instance within the second. The slice is
// shared: callers only read it.
func (s *Store) RecentEnabledWorkflows(ctx context.Context, triggerType string) ([]Workflow, error) {
	return s.wfCache.get(triggerType, workflowCacheTTL, func() ([]Workflow, error) { return s.EnabledWorkflows(ctx, triggerType) })
}

// DeleteWorkflow removes a workflow with no unfinished execution (ErrInUse otherwise). Its
// versions stay while executions point at them.
func (s *Store) DeleteWorkflow(ctx context.Context, id uint64) error {
	defer s.wfCache.drop()
	return s.audited(ctx, &id, func(tx *gorm.DB) error {
		var active int64
		if err := tx.Model(&Execution{}).Where("workflow_id = ? AND status IN ?", id, []string{ExecutionQueued, ExecutionRunning, ExecutionWaiting}).
			Count(&active).Error; err != nil {
			return fmt.Errorf("store: unable to delete workflow: %w", err)
		}
		if active > 0 {
			return fmt.Errorf("store: workflow has %d unfinished executions: %w", active, ErrInUse)
		}
		res := tx.Delete(&Workflow{}, id)
		if res.Error != nil {
			return fmt.Errorf("store: unable to delete workflow: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("store: unable to delete workflow: %w", ErrNotFound)
		}
		return nil
	})
}

// GetWorkflowVersion reads the definition an execution runs.
func (s *Store) GetWorkflowVersion(ctx context.Context, workflowID uint64, version int) (*WorkflowVersion, error) {
	v := new(WorkflowVersion)
	err := s.Read.WithContext(ctx).Where("workflow_id = ? AND version = ?", workflowID, version).Take(v).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read workflow version: %w", notFound(err))
	}
	return v, nil
}

// markLegacyWebhooks sets trigger.config.legacySignature on every webhook workflow's definition,
// and on the version its executions start from: their senders sign the body only, and keep
// working until someone drops the flag. A definition that has the flag already is left as it is,
// so running this again changes nothing.
func markLegacyWebhooks(tx *gorm.DB) error {
	var ws []Workflow
	if err := tx.Select("id", "version", "definition").Where("trigger_type = ?", "webhook").Find(&ws).Error; err != nil {
		return fmt.Errorf("read webhook workflows: %w", err)
	}
	for _, w := range ws {
		def, changed, err := withLegacySignature(w.Definition)
		if err != nil {
			return fmt.Errorf("workflow %d: %w", w.ID, err)
		}
		if !changed {
			continue
		}
		if err := tx.Model(&Workflow{}).Where("id = ?", w.ID).UpdateColumn("definition", def).Error; err != nil {
			return fmt.Errorf("workflow %d: %w", w.ID, err)
		}
		if err := tx.Model(&WorkflowVersion{}).Where("workflow_id = ? AND version = ?", w.ID, w.Version).UpdateColumn("definition", def).Error; err != nil {
			return fmt.Errorf("workflow %d version %d: %w", w.ID, w.Version, err)
		}
	}
	return nil
}

func withLegacySignature(def string) (string, bool, error) {
	var d map[string]json.RawMessage
	if err := json.Unmarshal([]byte(def), &d); err != nil {
		return "", false, err
	}
	var trigger map[string]json.RawMessage
	if err := json.Unmarshal(d["trigger"], &trigger); err != nil {
		return "", false, err
	}
	var cfg map[string]json.RawMessage
	if raw := trigger["config"]; len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return "", false, err
		}
	}
	if _, ok := cfg["legacySignature"]; ok {
		return def, false, nil
	}
	if cfg == nil {
		cfg = map[string]json.RawMessage{}
	}
	cfg["legacySignature"] = json.RawMessage("true")
	var err error
	if trigger["config"], err = json.Marshal(cfg); err != nil {
		return "", false, err
	}
	if d["trigger"], err = json.Marshal(trigger); err != nil {
		return "", false, err
	}
	out, err := json.Marshal(d)
	return string(out), true, err
}
