package models

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Chat is an app group chat (appchat) a channel created. WeCom has no call that lists an app's
// chats, so this table is the only record of which exist.
type Chat struct {
	ID        uint64 `gorm:"primaryKey"`
	ChannelID uint64 `gorm:"not null;uniqueIndex:idx_chats_channel_chatid,priority:1"`
	ChatID    string `gorm:"column:chatid;size:32;not null;uniqueIndex:idx_chats_channel_chatid,priority:2"`
	Name      string `gorm:"size:255;not null"`
	// Owner and Users are WeCom userids, as the chat holds them when last read or changed.
	Owner     string   `gorm:"size:64;not null"`
	Users     []string `gorm:"type:text;not null;serializer:json"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ListChats pages through the chats a channel created, oldest first.
func (s *Store) ListChats(ctx context.Context, channelID uint64, p Page) ([]Chat, int64, error) {
	return list[Chat](ctx, s.Read, "chats", p, func(q *gorm.DB) *gorm.DB { return q.Where("channel_id = ?", channelID) })
}

// GetChat reads one of a channel's chats by its chatid.
func (s *Store) GetChat(ctx context.Context, channelID uint64, chatID string) (*Chat, error) {
	return get[Chat](ctx, s.Read, "chat", "channel_id = ? AND chatid = ?", channelID, chatID)
}

// SaveChat records a chat (ID 0) or its new state, with the audit entry ctx carries.
func (s *Store) SaveChat(ctx context.Context, c *Chat) error {
	return s.audited(ctx, &c.ID, func(tx *gorm.DB) error {
		if c.ID == 0 {
			return create(ctx, tx, "chat", c)
		}
		return save(ctx, tx, "chat", c)
	})
}
