package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Template is a saved message design (SPEC §10.2): a msgtype and its body for one channel type,
// which a send or a notification node names instead of carrying the body itself.
type Template struct {
	ID          uint64 `gorm:"primaryKey"`
	Name        string `gorm:"size:64;not null;uniqueIndex"`
	Title       string `gorm:"size:255;not null"`
	ChannelType string `gorm:"size:32;not null"`
	MsgType     string `gorm:"size:32;not null"`
	// Body is the JSON object under the msgtype key, its variables unrendered.
	Body      string `gorm:"type:mediumtext;not null"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TemplateFilter narrows the template list: Name is exact, Q matches name and title.
type TemplateFilter struct {
	Name string
	Q    string
}

// ListTemplates pages through templates by id.
func (s *Store) ListTemplates(ctx context.Context, f TemplateFilter, p Page) ([]Template, int64, error) {
	return list[Template](ctx, s.Read, "templates", p, func(q *gorm.DB) *gorm.DB {
		if f.Name != "" {
			q = q.Where("name = ?", f.Name)
		}
		return nameScope(ListFilter{Q: f.Q}, "name", "title")(q)
	})
}

// GetTemplate reads one template by id.
func (s *Store) GetTemplate(ctx context.Context, id uint64) (*Template, error) {
	return get[Template](ctx, s.Read, "template", "id = ?", id)
}

// GetTemplateByName reads one template by its unique name.
func (s *Store) GetTemplateByName(ctx context.Context, name string) (*Template, error) {
	return get[Template](ctx, s.Read, "template", "name = ?", name)
}

// SaveTemplate creates t (ID 0) or updates it; a name in use is ErrDuplicate.
func (s *Store) SaveTemplate(ctx context.Context, t *Template) error {
	return s.audited(ctx, &t.ID, func(tx *gorm.DB) error {
		if t.ID == 0 {
			return create(ctx, tx, "template", t)
		}
		return save(ctx, tx, "template", t)
	})
}

// DeleteTemplate removes one template.
func (s *Store) DeleteTemplate(ctx context.Context, id uint64) error {
	return s.audited(ctx, &id, func(tx *gorm.DB) error { return deleteByID[Template](ctx, tx, "template", id) })
}
