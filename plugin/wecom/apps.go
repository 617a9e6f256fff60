package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wecomflow/wecomflow/callback"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/problem"
)

// Authenticators is what Apps reads of the store.
type Authenticators interface {
	GetAuthenticator(ctx context.Context, id uint64) (*models.Authenticator, error)
	GetAuthenticatorByName(ctx context.Context, name string) (*models.Authenticator, error)
	ListAuthenticators(ctx context.Context, f models.ListFilter, p models.Page) ([]models.Authenticator, int64, error)
}

// AppOf is a stored WeCom authenticator's app and complete options, secrets included (the
// store's Secret column unseals them). Never send it to a client.
func AppOf(a *models.Authenticator) (App, Options) {
	var o Options
	raw, _ := json.Marshal(plugin.FullOptions(a.Options, a.Secrets.Plain))
	_ = json.Unmarshal(raw, &o)
	return App{AuthenticatorID: a.ID, CorpID: o.CorpID, AgentID: o.AgentID, Secret: o.Secret, APIBase: o.APIBaseURL}, o
}

// Apps resolves authenticators to their usable credentials for everything that talks to WeCom:
// the sender, the directory syncer, the callback URL and the message actions.
type Apps struct {
	store Authenticators
}

// NewApps reads authenticators from store.
func NewApps(store Authenticators) *Apps { return &Apps{store: store} }

// App is the app and send options of an enabled authenticator. A missing one is a 404, a
// disabled one a 409 saying so.
func (a *Apps) App(ctx context.Context, authenticatorID uint64) (App, SendOptions, error) {
	app, o, err := a.enabled(ctx, authenticatorID)
	return app, SendOptions{DailyQuota: o.DailyQuota}, err
}

// enabled is the app and complete options of an enabled authenticator, with App's errors.
func (a *Apps) enabled(ctx context.Context, authenticatorID uint64) (App, Options, error) {
	auth, err := a.store.GetAuthenticator(ctx, authenticatorID)
	if err != nil {
		return App{}, Options{}, problem.StoreError("Authenticator", err)
	}
	if !auth.Enabled {
		return App{}, Options{}, problem.Errorf(problem.CodeConflict, "The authenticator %q is disabled; enable it to send through it.", auth.Name)
	}
	app, o := AppOf(auth)
	return app, o, nil
}

// ErrNoApp is an authenticator that cannot be used for the directory: gone, disabled or not a
// WeCom one. Options wraps it so the syncer can tell it from a passing failure.
var ErrNoApp = errors.New("the authenticator cannot be used")

// Options is the app and complete options (the contacts secret and sync settings too) of an
// enabled WeCom authenticator, for the directory sync.
func (a *Apps) Options(ctx context.Context, authenticatorID uint64) (App, Options, error) {
	auth, err := a.store.GetAuthenticator(ctx, authenticatorID)
	if errors.Is(err, models.ErrNotFound) {
		return App{}, Options{}, fmt.Errorf("%w: authenticator %d no longer exists", ErrNoApp, authenticatorID)
	}
	if err != nil {
		return App{}, Options{}, err
	}
	switch {
	case auth.Type != Type:
		return App{}, Options{}, fmt.Errorf("%w: %q is not a WeCom authenticator", ErrNoApp, auth.Name)
	case !auth.Enabled:
		return App{}, Options{}, fmt.Errorf("%w: %q is disabled (enable it to sync its directory)", ErrNoApp, auth.Name)
	}
	app, o := AppOf(auth)
	return app, o, nil
}

// Callback finds the Token, EncodingAESKey and corp ID of an authenticator's message-reception
// URL (kind app) or contacts-sync URL (kind contacts): the callback handler's lookup.
func (a *Apps) Callback(ctx context.Context, name, kind string) (callback.Credentials, error) {
	auth, err := a.store.GetAuthenticatorByName(ctx, name)
	if errors.Is(err, models.ErrNotFound) {
		return callback.Credentials{}, callback.ErrUnknownAuthenticator
	}
	if err != nil {
		return callback.Credentials{}, err
	}
	_, o := AppOf(auth)
	cb := o.Callback
	if kind == callback.KindContacts {
		cb = o.ContactsCallback
	}
	if cb == nil || cb.Token == "" || cb.EncodingAESKey == "" {
		return callback.Credentials{}, callback.ErrNotConfigured
	}
	return callback.Credentials{AuthenticatorID: auth.ID, CorpID: o.CorpID, Token: cb.Token, EncodingAESKey: cb.EncodingAESKey}, nil
}

// HasCallback reports whether an authenticator can receive card clicks (interactive cards need
// it; WeCom answers 43012 otherwise).
func (a *Apps) HasCallback(ctx context.Context, authenticatorID uint64) (name string, ok bool, err error) {
	auth, err := a.store.GetAuthenticator(ctx, authenticatorID)
	if err != nil {
		return "", false, problem.StoreError("Authenticator", err)
	}
	_, o := AppOf(auth)
	return auth.Name, o.HasCallback(), nil
}

// SyncSchedules lists the enabled WeCom authenticators whose directory syncs on a schedule
// (options.sync.enabled with a schedule).
func (a *Apps) SyncSchedules(ctx context.Context) ([]Schedule, error) {
	var out []Schedule
	for page := 1; ; page++ {
		items, _, err := a.store.ListAuthenticators(ctx, models.ListFilter{}, models.Page{Page: page, Size: 200})
		if err != nil {
			return nil, err
		}
		for i := range items {
			auth := &items[i]
			if auth.Type != Type || !auth.Enabled {
				continue
			}
			// The sync settings are not secret: no need to unseal anything.
			var o struct {
				Sync SyncOptions `json:"sync"`
			}
			_ = json.Unmarshal([]byte(auth.Options), &o)
			if o.Sync.Enabled && o.Sync.Schedule != "" {
				out = append(out, Schedule{AuthenticatorID: auth.ID, Spec: o.Sync.Schedule})
			}
		}
		if len(items) < 200 {
			return out, nil
		}
	}
}
