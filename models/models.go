package models

import (
	"errors"
	"time"

	"gorm.io/gorm"
)

// Errors callers branch on; storage errors are wrapped around them with %w.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("already exists")
	ErrInUse     = errors.New("in use")
)

// Authenticator is a WeCom self-built app (or another type's credentials). Options holds the
// type's settings as JSON without secrets; Secrets holds the secret options, sealed.
type Authenticator struct {
	ID        uint64 `gorm:"primaryKey"`
	Name      string `gorm:"size:64;not null;uniqueIndex"`
	Title     string `gorm:"size:255;not null"`
	Type      string `gorm:"size:32;not null"`
	Enabled   bool   `gorm:"not null"`
	Options   string `gorm:"type:text;not null"`
	Secrets   Secret
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Channel is a named way to send notifications through one authenticator.
type Channel struct {
	ID              uint64 `gorm:"primaryKey"`
	Name            string `gorm:"size:64;not null;uniqueIndex"`
	Title           string `gorm:"size:255;not null"`
	Type            string `gorm:"size:32;not null"`
	AuthenticatorID uint64 `gorm:"not null;index"`
	Description     string `gorm:"type:text;not null"`
	Options         string `gorm:"type:text;not null"`
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// User sources: who owns a user's fields. A directory sync only links manual and import users.
const (
	SourceManual = "manual"
	SourceImport = "import"
	SourceSync   = "sync"
)

// User is a person of the local user system that message receivers resolve against.
type User struct {
	ID     uint64 `gorm:"primaryKey"`
	UserID string `gorm:"column:userid;size:128;not null;uniqueIndex"`
	Name   string `gorm:"size:255;not null"`
	Mobile string `gorm:"size:64;not null"`
	Email  string `gorm:"size:255;not null"`
	// WeChatWK is the "wechatwk" binding: the person's WeCom userid, shared by every app of a corp.
	WeChatWK  string `gorm:"column:wechatwk;size:64;not null;index"`
	Source    string `gorm:"size:16;not null;index:idx_users_source"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// APIToken is an admin API token; only its SHA-256 is stored.
type APIToken struct {
	ID        uint64 `gorm:"primaryKey"`
	Name      string `gorm:"size:64;not null"`
	Hash      string `gorm:"size:64;not null;uniqueIndex"`
	Hint      string `gorm:"size:16;not null"`
	Bootstrap bool   `gorm:"not null"`
	CreatedAt time.Time
}

// notFound turns gorm's record-not-found into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// duplicate turns a unique-key violation into ErrDuplicate.
func duplicate(err error) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrDuplicate
	}
	return err
}

// Page selects one page of a list; Page counts from 1.
type Page struct{ Page, Size int }

func (p Page) offset() int { return (p.Page - 1) * p.Size }
