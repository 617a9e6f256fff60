package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// migration is one schema step. Steps run in order, each once; every step is also written to be
// harmless when repeated (AutoMigrate and IF NOT EXISTS only add, dropIndexes drops only what is
// there), so an interrupted upgrade can simply be run again.
type migration struct {
	Version int
	Name    string
	Up      func(tx *gorm.DB) error
}

var migrations = []migration{
	{1, "authenticators, channels, users, api tokens", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Authenticator{}, &Channel{}, &User{}, &APIToken{})
	}},
	{2, "message outbox, access token cache, media", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Message{}, &MessageRequest{}, &AccessToken{}, &Media{})
	}},
	{3, "callback events, card responses, directory, sync tasks", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Message{}, &CallbackEvent{}, &CardResponse{}, &Department{}, &Member{}, &SyncTask{})
	}},
	{4, "workflows, versions, executions, jobs", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Workflow{}, &WorkflowVersion{}, &Execution{}, &Job{})
	}},
	{5, "web UI sessions", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Session{})
	}},
	{6, "leader election", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Leader{})
	}},
	{7, "indexes for list filters and retention", func(tx *gorm.DB) error {
		return createIndexes(tx, []namedIndex{
			{&Message{}, "idx_messages_channel_name"},
			{&MessageRequest{}, "idx_requests_sent_at"},
			{&CallbackEvent{}, "idx_events_kind"},
			{&CallbackEvent{}, "idx_events_created"},
			{&Workflow{}, "idx_workflows_enabled"},
			{&User{}, "idx_users_source"},
			{&Department{}, "idx_departments_deleted"},
			{&SyncTask{}, "idx_sync_tasks_created"},
		})
	}},
	{8, "token hints show at most 4 characters of the secret", shortenTokenHints},
	{9, "accounts, token roles and scopes, audit log, sign-in with WeCom", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Account{}, &APIToken{}, &Session{}, &AuditEntry{}, &SignInState{})
	}},
	{10, "channel types: channel secrets, the message's channel type", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Channel{}, &Message{})
	}},
	{11, "customer mass messages", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&MassMessage{}, &MassMessageMember{})
	}},
	{12, "people by mobile or email: cached lookups and the daily failure count", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&UserLookup{}, &LookupFailure{})
	}},
	{13, "app group chats: the chats a channel created, the chat a request posts to", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Chat{}, &MessageRequest{})
	}},
	{14, "webhook workflows saved so far keep their body-only signature (legacySignature)", markLegacyWebhooks},
	{15, "saved templates, the template a message was sent by", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Template{}, &Message{})
	}},
	{16, "event hooks: hooks, their queued events, the delivery log", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&EventHook{}, &HookEvent{}, &HookAttempt{})
	}},
	{18, "department leaders: the departments a member leads", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Member{})
	}},
	{19, "digest windows and their items", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&DigestWindow{}, &DigestItem{})
	}},
	{20, "reminders of the recipients of a card who have not clicked", func(tx *gorm.DB) error {
		return tx.AutoMigrate(&Reminder{})
	}},
	{21, "drop the indexes no query uses: every message and callback paid for them in writes", func(tx *gorm.DB) error {
		return dropIndexes(tx, []namedIndex{
			{&Message{}, "idx_messages_channel_created"},
			{&MessageRequest{}, "idx_message_requests_lease_until"},
			{&MessageRequest{}, "idx_message_requests_msg_id"},
			{&CallbackEvent{}, "idx_callback_events_lease_until"},
		})
	}},
}

// namedIndex is an index a model declares in its gorm tags.
type namedIndex struct {
	model any
	name  string
}

// createIndexes adds the indexes that are missing. A fresh database already has them (the earlier
// steps create the tables from today's models), an upgraded one gets them here; on MySQL InnoDB
// builds them online, without blocking writes.
func createIndexes(tx *gorm.DB, indexes []namedIndex) error {
	m := tx.Migrator()
	for _, ix := range indexes {
		if m.HasIndex(ix.model, ix.name) {
			continue
		}
		if err := m.CreateIndex(ix.model, ix.name); err != nil {
			return fmt.Errorf("index %s: %w", ix.name, err)
		}
	}
	return nil
}

// dropIndexes drops the indexes that exist (a fresh database never had them).
func dropIndexes(tx *gorm.DB, indexes []namedIndex) error {
	m := tx.Migrator()
	for _, ix := range indexes {
		if !m.HasIndex(ix.model, ix.name) {
			continue
		}
		if err := m.DropIndex(ix.model, ix.name); err != nil {
			return fmt.Errorf("index %s: %w", ix.name, err)
		}
	}
	return nil
}

type schemaMigration struct {
	Version   int    `gorm:"primaryKey;autoIncrement:false"`
	Name      string `gorm:"size:255;not null"`
	AppliedAt time.Time
}

// SchemaVersion is the highest version of a migration.
func SchemaVersion() int {
	v := 0
	for _, m := range migrations {
		v = max(v, m.Version)
	}
	return v
}

// Migrate brings the schema up to date. Several instances may call it at once: on MySQL they
// queue on a named lock, on SQLite on the single writer.
func (s *Store) Migrate(ctx context.Context) error {
	return s.DB.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		// A fresh session per statement: the pinned connection's *gorm.DB would otherwise carry
		// one statement's model into the next.
		conn = conn.Session(&gorm.Session{})
		if s.Dialect == DialectMySQL {
			var got int
			if err := conn.Raw("SELECT GET_LOCK('wecomflow_migrate', 60)").Scan(&got).Error; err != nil || got != 1 {
				return fmt.Errorf("store: unable to take the migration lock: %v", err)
			}
			defer conn.Exec("SELECT RELEASE_LOCK('wecomflow_migrate')")
			conn = conn.Set("gorm:table_options", "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin").Session(&gorm.Session{})
		}
		if err := conn.AutoMigrate(&schemaMigration{}); err != nil {
			return fmt.Errorf("store: unable to create schema_migrations: %w", err)
		}
		var applied []int
		if err := conn.Model(&schemaMigration{}).Pluck("version", &applied).Error; err != nil {
			return fmt.Errorf("store: unable to read schema_migrations: %w", err)
		}
		done := map[int]bool{}
		for _, v := range applied {
			done[v] = true
		}
		for _, m := range migrations {
			if done[m.Version] {
				continue
			}
			if err := m.Up(conn); err != nil {
				return fmt.Errorf("store: migration %d (%s): %w", m.Version, m.Name, err)
			}
			rec := schemaMigration{Version: m.Version, Name: m.Name, AppliedAt: s.Now()}
			if err := conn.Create(&rec).Error; err != nil {
				return fmt.Errorf("store: unable to record migration %d: %w", m.Version, err)
			}
		}
		return nil
	})
}

// Ready reports whether the database answers and carries every migration.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	var applied []int
	if err := s.Read.WithContext(ctx).Model(&schemaMigration{}).Pluck("version", &applied).Error; err != nil {
		return fmt.Errorf("store: unable to read the schema version: %w", err)
	}
	// Every version, not the highest: with gaps in the numbering a lower one may arrive later.
	for _, m := range migrations {
		if !slices.Contains(applied, m.Version) {
			return errors.New("store: migrations pending")
		}
	}
	return nil
}
