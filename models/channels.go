package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Channel is a named way to send notifications: through an authenticator's app, or a type of its
// own (a group robot, whose authenticator is optional: AuthenticatorID 0).
type Channel struct {
	ID              uint64 `gorm:"primaryKey"`
	Name            string `gorm:"size:64;not null;uniqueIndex"`
	Title           string `gorm:"size:255;not null"`
	Type            string `gorm:"size:32;not null"`
	AuthenticatorID uint64 `gorm:"not null;index"`
	Description     string `gorm:"type:text;not null"`
	Options         string `gorm:"type:text;not null"`
	// Secrets are the type's secret options (a robot's webhook key), sealed.
	Secrets   Secret
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ListChannels pages through channels, filtered by name/title and authenticator.
func (s *Store) ListChannels(ctx context.Context, f ListFilter, p Page) ([]Channel, int64, error) {
	return list[Channel](ctx, s.Read, "channels", p, func(q *gorm.DB) *gorm.DB {
		if f.AuthenticatorID != 0 {
			q = q.Where("authenticator_id = ?", f.AuthenticatorID)
		}
		return nameScope(f, "name", "title")(q)
	})
}

// GetChannel reads one channel by id.
func (s *Store) GetChannel(ctx context.Context, id uint64) (*Channel, error) {
	return get[Channel](ctx, s.Read, "channel", "id = ?", id)
}

// GetChannelByName reads one channel by its unique name.
func (s *Store) GetChannelByName(ctx context.Context, name string) (*Channel, error) {
	return get[Channel](ctx, s.Read, "channel", "name = ?", name)
}

// channelCacheTTL is how long a send reuses a channel read by name.
const channelCacheTTL = time.Second

// SendChannel is GetChannelByName for the send path: a copy of a read of the last
// channelCacheTTL (every message reads its channel).
func (s *Store) SendChannel(ctx context.Context, name string) (*Channel, error) {
	return s.chanCache.getCopy(name, channelCacheTTL, func() (*Channel, error) { return s.GetChannelByName(ctx, name) })
}

// channelsChanged drops the cached channels.
func (s *Store) channelsChanged() { s.chanCache.drop() }

// SaveChannel creates c (ID 0) or updates it, in a transaction that checks its authenticator
// exists and holds it so a concurrent delete of the authenticator cannot slip in between.
func (s *Store) SaveChannel(ctx context.Context, c *Channel) error {
	defer s.channelsChanged()
	return s.audited(ctx, &c.ID, func(tx *gorm.DB) error {
		var a Authenticator
		if c.AuthenticatorID == 0 {
			return saveOrCreate(ctx, tx, c)
		}
		if err := lockForUpdate(tx, s.Dialect).Select("id").Where("id = ?", c.AuthenticatorID).Take(&a).Error; err != nil {
			return fmt.Errorf("store: authenticator %d: %w", c.AuthenticatorID, notFound(err))
		}
		return saveOrCreate(ctx, tx, c)
	})
}

// saveOrCreate inserts c when it is new, else saves it.
func saveOrCreate(ctx context.Context, tx *gorm.DB, c *Channel) error {
	if c.ID == 0 {
		return create(ctx, tx, "channel", c)
	}
	return save(ctx, tx, "channel", c)
}

// DeleteChannel removes one channel and the record of the chats it created: they stay in WeCom,
// but no other channel may post to them.
func (s *Store) DeleteChannel(ctx context.Context, id uint64) error {
	defer s.channelsChanged()
	return s.audited(ctx, &id, func(tx *gorm.DB) error {
		if err := deleteByID[Channel](ctx, tx, "channel", id); err != nil {
			return err
		}
		if err := tx.WithContext(ctx).Where("channel_id = ?", id).Delete(&Chat{}).Error; err != nil {
			return fmt.Errorf("store: unable to delete the channel's chats: %w", err)
		}
		return nil
	})
}
