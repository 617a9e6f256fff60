package service

import (
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
)

// Config is what the services need to know of the server's configuration.
type Config struct {
	// PublicURL is the base of the callback URLs shown to admins.
	PublicURL string
	// Clients talks to WeCom.
	Clients *wecom.Clients
	// Wake tells the sender a message was queued.
	Wake func()
	// TemplateEnv is what {{$env.NAME}} may read: the names of WECOMFLOW_TEMPLATE_ENV and their values.
	TemplateEnv map[string]string
	// Location is the time zone of {{$system.now}} and the date filter.
	Location *time.Location
}

// Service is the operations on wecomflow's resources.
type Service struct {
	store   *models.Store
	plugins plugin.Registry
	cfg     Config
	log     *slog.Logger
}

// New builds the services over a store.
func New(store *models.Store, plugins plugin.Registry, cfg Config, log *slog.Logger) *Service {
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Service{store: store, plugins: plugins, cfg: cfg, log: log}
}

// Page is a page request; Normalize applies the API's defaults and bounds.
type Page struct{ Page, PageSize int }

// Normalize fills defaults (1/20) and caps pageSize at 200.
func (p Page) Normalize() Page {
	if p.Page < 1 {
		p.Page = 1
	}
	if p.PageSize < 1 {
		p.PageSize = 20
	}
	if p.PageSize > 200 {
		p.PageSize = 200
	}
	return p
}

func (p Page) model() models.Page {
	p = p.Normalize()
	return models.Page{Page: p.Page, Size: p.PageSize}
}

// List is one page of a list.
type List[T any] struct {
	Items []T
	Total int64
	Page  Page
}

func mapList[M, V any](items []M, total int64, p Page, view func(*M) V) List[V] {
	out := make([]V, len(items))
	for i := range items {
		out[i] = view(&items[i])
	}
	return List[V]{Items: out, Total: total, Page: p.Normalize()}
}

// Timestamps are on every resource view.
type Timestamps struct {
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func decodeJSONObject(s string) map[string]any {
	m := map[string]any{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &m)
	}
	return m
}

func encodeJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
