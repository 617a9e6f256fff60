package service

import (
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/fetch"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
)

// Config is what the services need to know of the server's configuration.
type Config struct {
	// PublicURL is the base of the callback URLs shown to admins, and of the sign-in's redirect.
	PublicURL string
	// LoginBase and OAuthBase are WeCom's sign-in pages: the QR page for desktop browsers and the
	// OAuth page inside the WeCom app (wecom.DefaultLoginBase and DefaultOAuthBase when empty).
	LoginBase, OAuthBase string
	// WakeSync tells the directory runner that a sync task was queued.
	WakeSync func()
	// Owner names this instance on the leases of mass message refreshes.
	Owner string
	// Fetcher judges event hook targets by the outbound rules (SPEC §8.6).
	Fetcher *fetch.Fetcher
}

// Service is the operations on wecomflow's resources.
type Service struct {
	store   *models.Store
	plugins plugin.Registry
	clients *wecom.Clients
	apps    *wecom.Apps
	cfg     Config
	log     *slog.Logger
}

// New builds the services over a store; clients and apps reach WeCom for the connection check.
func New(store *models.Store, plugins plugin.Registry, clients *wecom.Clients, apps *wecom.Apps, cfg Config, log *slog.Logger) *Service {
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.LoginBase == "" {
		cfg.LoginBase = wecom.DefaultLoginBase
	}
	if cfg.OAuthBase == "" {
		cfg.OAuthBase = wecom.DefaultOAuthBase
	}
	cfg.LoginBase, cfg.OAuthBase = strings.TrimRight(cfg.LoginBase, "/"), strings.TrimRight(cfg.OAuthBase, "/")
	if cfg.WakeSync == nil {
		cfg.WakeSync = func() {}
	}
	return &Service{store: store, plugins: plugins, clients: clients, apps: apps, cfg: cfg, log: log}
}

// Timestamps are on every resource view.
type Timestamps struct {
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func encodeJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
