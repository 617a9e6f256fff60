package models

import (
	"context"
	"fmt"
	"time"
)

// Media is a file uploaded to wecomflow for sending (POST /api/v1/media), kept so it can be
// uploaded to WeCom again when a media_id expires after 3 days.
type Media struct {
	ID              string `gorm:"primaryKey;size:26"`
	AuthenticatorID uint64 `gorm:"not null;index"`
	Type            string `gorm:"size:16;not null"`
	Filename        string `gorm:"size:255;not null"`
	// SourceURL is set for files fetched from a message's "media": {"url": …}.
	SourceURL      string `gorm:"size:2048;not null"`
	Size           int64  `gorm:"not null"`
	SHA256         string `gorm:"size:64;not null"`
	Content        []byte `gorm:"type:longblob"`
	MediaID        string `gorm:"size:255;not null"`
	MediaExpiresAt *time.Time
	CreatedAt      time.Time
}

// CreateMedia stores an uploaded file.
func (s *Store) CreateMedia(ctx context.Context, m *Media) error {
	return create(ctx, s.DB, "media", m)
}

// GetMedia reads a stored file.
func (s *Store) GetMedia(ctx context.Context, id string) (*Media, error) {
	return get[Media](ctx, s.DB, "media", "id = ?", id)
}

// MediaByURL finds the newest file fetched from url for an authenticator whose media_id is still
// good at least until validUntil.
func (s *Store) MediaByURL(ctx context.Context, authenticatorID uint64, url string, validUntil time.Time) (*Media, error) {
	var m Media
	err := s.DB.WithContext(ctx).Where("authenticator_id = ? AND source_url = ? AND media_expires_at > ?", authenticatorID, url, validUntil).
		Order("created_at DESC").Take(&m).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to find media: %w", notFound(err))
	}
	return &m, nil
}

// SetMediaID records the WeCom media_id of a stored file and when it expires.
func (s *Store) SetMediaID(ctx context.Context, id, mediaID string, expires time.Time) error {
	if err := s.DB.WithContext(ctx).Model(&Media{}).Where("id = ?", id).
		Updates(map[string]any{"media_id": mediaID, "media_expires_at": expires}).Error; err != nil {
		return fmt.Errorf("store: unable to record media_id: %w", err)
	}
	return nil
}
