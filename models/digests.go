package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// DigestWindow is one window of a digest node (SPEC §11): the execution that opened it waits until
// EndsAt (or until MaxItems items arrived), then goes on with the items; the executions that
// joined it meanwhile end at the node.
type DigestWindow struct {
	ID         uint64 `gorm:"primaryKey"`
	WorkflowID uint64 `gorm:"not null;uniqueIndex:idx_digest_open,priority:1"`
	NodeKey    string `gorm:"size:64;not null;uniqueIndex:idx_digest_open,priority:2;uniqueIndex:idx_digest_opener,priority:2"`
	// KeyHash is the SHA-256 of Key: a rendered key may be longer than an index allows.
	KeyHash string `gorm:"size:64;not null;uniqueIndex:idx_digest_open,priority:3"`
	// IsOpen is true while the window takes items and NULL once it is closed: the unique index
	// then admits one open window per workflow, node and key (NULLs never collide), which is what
	// makes two executions that arrive at once join one window.
	IsOpen *bool  `gorm:"uniqueIndex:idx_digest_open,priority:4"`
	Key    string `gorm:"type:text;not null"`
	// ExecutionID is the execution that opened the window and goes on with its items.
	ExecutionID string `gorm:"size:26;not null;uniqueIndex:idx_digest_opener,priority:1"`
	Count       int    `gorm:"not null"`
	MaxItems    int    `gorm:"not null"`
	EndsAt      time.Time
	ClosedAt    *time.Time
	CreatedAt   time.Time
}

// DigestItem is one execution's $context.data in a window; Seq is its place in arrival order.
type DigestItem struct {
	ID       uint64 `gorm:"primaryKey"`
	WindowID uint64 `gorm:"not null;index:idx_digest_items_window,priority:1"`
	Seq      int    `gorm:"not null;index:idx_digest_items_window,priority:2"`
	// An execution reaches a node once, so it adds one item there; the unique index makes a
	// step that runs again (a crash before it was written) find its item instead of adding another.
	ExecutionID string `gorm:"size:26;not null;uniqueIndex:idx_digest_items_execution,priority:1"`
	NodeKey     string `gorm:"size:64;not null;uniqueIndex:idx_digest_items_execution,priority:2"`
	// Data is the item (JSON).
	Data      string `gorm:"type:mediumtext;not null"`
	CreatedAt time.Time
}

// DigestEntry is an execution arriving at a digest node.
type DigestEntry struct {
	WorkflowID        uint64
	NodeKey, Key      string
	ExecutionID, Data string
	Window            time.Duration
	MaxItems          int
}

// DigestJoin is where an entry landed: a window it opened, or one another execution opened.
type DigestJoin struct {
	Window DigestWindow
	Opened bool
}

// JoinDigest adds the entry to the open window of its workflow, node and key, or opens one. It is
// atomic with the window's close (both lock the window's row), so an item lands in the window
// being closed or opens the next, never both and never neither; a window that reaches MaxItems
// closes here and its opener is woken. Asked again for an execution already in a window, it
// answers with that window and changes nothing.
func (s *Store) JoinDigest(ctx context.Context, in DigestEntry) (DigestJoin, error) {
	sum := sha256.Sum256([]byte(in.Key))
	hash := hex.EncodeToString(sum[:])
	var out DigestJoin
	join := func(tx *gorm.DB) error {
		out = DigestJoin{} // what a rolled-back attempt found does not hold
		now := s.Now()
		var mine DigestItem
		err := tx.Where("execution_id = ? AND node_key = ?", in.ExecutionID, in.NodeKey).Take(&mine).Error
		if err == nil {
			if err := tx.Where("id = ?", mine.WindowID).Take(&out.Window).Error; err != nil {
				return fmt.Errorf("store: unable to read the digest window: %w", notFound(err))
			}
			out.Opened = out.Window.ExecutionID == in.ExecutionID
			return nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("store: unable to read digest items: %w", err)
		}
		w := &out.Window
		err = lockForUpdate(tx, s.Dialect).Where("workflow_id = ? AND node_key = ? AND key_hash = ? AND is_open = ?",
			in.WorkflowID, in.NodeKey, hash, true).Take(w).Error
		switch {
		case err == nil && !now.Before(w.EndsAt):
			// Its time is up though its opener has not closed it yet: an arrival now belongs to
			// the next window, and this one takes nothing more.
			if err := closeDigest(tx, w, now); err != nil {
				return err
			}
			*w = DigestWindow{}
		case errors.Is(err, gorm.ErrRecordNotFound):
		case err != nil:
			return fmt.Errorf("store: unable to read the digest window: %w", err)
		}
		if w.ID == 0 {
			open := true
			*w = DigestWindow{WorkflowID: in.WorkflowID, NodeKey: in.NodeKey, KeyHash: hash, IsOpen: &open, Key: in.Key,
				ExecutionID: in.ExecutionID, MaxItems: in.MaxItems, EndsAt: now.Add(in.Window), CreatedAt: now}
			if err := tx.Create(w).Error; err != nil {
				return fmt.Errorf("store: unable to open a digest window: %w", err)
			}
			out.Opened = true
		}
		w.Count++
		item := DigestItem{WindowID: w.ID, Seq: w.Count, ExecutionID: in.ExecutionID, NodeKey: in.NodeKey, Data: in.Data, CreatedAt: now}
		if err := tx.Create(&item).Error; err != nil {
			return fmt.Errorf("store: unable to add to the digest: %w", err)
		}
		if err := tx.Model(w).Update("count", w.Count).Error; err != nil {
			return fmt.Errorf("store: unable to count the digest: %w", err)
		}
		if w.Count < w.MaxItems {
			return nil
		}
		if err := closeDigest(tx, w, now); err != nil {
			return err
		}
		if out.Opened {
			return nil // the opener is the one running: it sees the window closed
		}
		return s.nudge(tx, "id = ?", w.ExecutionID)
	}
	// Executions that arrive at once at a key with no open window all try to open one; on MySQL
	// all but one fail on the unique index, or as deadlock victims, and join the winner's next
	// time. Every round lets at least one through.
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return duplicate(join(tx)) })
		if !errors.Is(err, ErrDuplicate) && !isDeadlock(err) {
			break
		}
	}
	return out, err
}

// CloseDigest closes the window that execution opened at node, once its time is up, and returns it
// with its items in arrival order; a window still open before its end is returned without items.
// Closing a closed window only reads it again, so a step that runs twice sees the same items.
func (s *Store) CloseDigest(ctx context.Context, executionID, nodeKey string) (*DigestWindow, []DigestItem, error) {
	var w DigestWindow
	var items []DigestItem
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.Now()
		// The lock waits out a join in progress; under READ COMMITTED the items read after it
		// include that join's.
		err := lockForUpdate(tx, s.Dialect).Where("execution_id = ? AND node_key = ?", executionID, nodeKey).Take(&w).Error
		if err != nil {
			return fmt.Errorf("store: unable to read the digest window: %w", notFound(err))
		}
		if w.IsOpen != nil {
			if now.Before(w.EndsAt) {
				return nil
			}
			if err := closeDigest(tx, &w, now); err != nil {
				return err
			}
		}
		if err := tx.Where("window_id = ?", w.ID).Order("seq").Find(&items).Error; err != nil {
			return fmt.Errorf("store: unable to read the digest items: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return &w, items, nil
}

// closeDigest marks a locked window closed: it takes no more items, and its key may open another.
func closeDigest(tx *gorm.DB, w *DigestWindow, now time.Time) error {
	w.IsOpen, w.ClosedAt = nil, &now
	if err := tx.Model(&DigestWindow{}).Where("id = ?", w.ID).
		Updates(map[string]any{"is_open": nil, "closed_at": now}).Error; err != nil {
		return fmt.Errorf("store: unable to close the digest window: %w", err)
	}
	return nil
}
