package server

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/oklog/ulid/v2"

	"github.com/wecomflow/wecomflow/callback"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/service"
)

// directoryRoutes registers the directory sync and read routes (SPEC §3.1 sync, §3.5).
func (s *Server) directoryRoutes(api *gin.RouterGroup) {
	api.POST("/authenticators/:id/sync", s.handle(s.startSync))
	api.GET("/sync-tasks", s.handle(s.listSyncTasks))
	api.GET("/sync-tasks/:id", s.handle(s.getSyncTask))
	api.POST("/sync-tasks/:id/retry", s.handle(s.retrySyncTask))
	api.GET("/directory/departments", s.handle(s.listDepartments))
	api.GET("/directory/members", s.handle(s.listMembers))
}

// syncer builds the directory syncer over the server's store, WeCom clients and services. It
// holds no state of its own between calls, so building one per use is cheap.
func (s *Server) syncer(o wecom.SyncerOptions) *wecom.Syncer {
	if o.Owner == "" {
		o.Owner = s.cfg.Sender.Owner
		if o.Owner == "" {
			host, _ := os.Hostname()
			o.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), ulid.Make().String()[20:])
		}
		o.Owner += "/directory"
	}
	if o.Now == nil {
		o.Now = s.store.Now
	}
	if o.Schedules == nil {
		o.Schedules = s.svc.SyncSchedules
	}
	if o.Wake == nil {
		o.Wake = s.syncWake
	}
	if o.OnFinish == nil {
		o.OnFinish = s.metrics.observeSync
	}
	if o.Leading == nil {
		o.Leading = s.elector.Leading
	}
	return wecom.NewSyncer(s.store, s.clients, s.svc.WeComOptions, s.log, o)
}

// RunDirectory runs the directory sync runner until ctx ends: it claims queued sync tasks (one at
// a time, under a lease) and queues the scheduled ones. Server.Run starts it with the other
// background work.
func (s *Server) RunDirectory(ctx context.Context) error {
	return s.syncer(wecom.SyncerOptions{}).Run(ctx)
}

// HandleContactChange is the callback subscriber for change_contact events of the contacts-sync
// URL: it applies the change to the directory and the linked users. Idempotent per event.
func (s *Server) HandleContactChange(ctx context.Context, ev *callback.Event) error {
	if ev.Event != "change_contact" {
		return nil
	}
	return s.ApplyContactChange(ctx, ev.AuthenticatorID, ev.Payload)
}

// ApplyContactChange applies one decrypted change_contact payload (WeCom's field names) of an
// authenticator to the directory.
func (s *Server) ApplyContactChange(ctx context.Context, authenticatorID uint64, payload map[string]any) error {
	return s.syncer(wecom.SyncerOptions{}).ApplyChange(ctx, authenticatorID, payload)
}

func (s *Server) startSync(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	t, err := s.svc.StartSync(c.Request.Context(), id)
	if err != nil {
		return err
	}
	s.syncWake.Notify()
	return ok(c, http.StatusAccepted, t)
}

func (s *Server) listSyncTasks(c *gin.Context) error {
	byAuthenticator := func(c *gin.Context) (uint64, error) { return optionalID(c, "authenticatorId") }
	return listFiltered(c, byAuthenticator, s.svc.ListSyncTasks)
}

// listFiltered answers a list route: the page, then filter's reading of the query, then list's
// page of results; the first error is the answer.
func listFiltered[F, T any](c *gin.Context, filter func(*gin.Context) (F, error), list func(context.Context, F, service.Page) (service.List[T], error)) error {
	p, err := pageOf(c)
	if err != nil {
		return err
	}
	f, err := filter(c)
	if err != nil {
		return err
	}
	l, err := list(c.Request.Context(), f, p)
	if err != nil {
		return err
	}
	return okList(c, l)
}

func (s *Server) getSyncTask(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	t, err := s.svc.GetSyncTask(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, t)
}

func (s *Server) retrySyncTask(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	t, err := s.svc.RetrySyncTask(c.Request.Context(), id)
	if err != nil {
		return err
	}
	s.syncWake.Notify()
	return ok(c, http.StatusOK, t)
}

// directoryFilter reads ?authenticatorId=&departmentId=&q=&deleted=.
func directoryFilter(c *gin.Context) (service.DirectoryFilter, error) {
	f := service.DirectoryFilter{Q: c.Query("q")}
	var err error
	if f.AuthenticatorID, err = optionalID(c, "authenticatorId"); err != nil {
		return f, err
	}
	dept, err := optionalID(c, "departmentId")
	if err != nil {
		return f, err
	}
	f.DepartmentID = int64(min(dept, 1<<62))
	switch c.Query("deleted") {
	case "":
	case "true":
		f.Deleted = new(true)
	case "false":
		f.Deleted = new(false)
	default:
		return f, service.Invalidf("deleted", "must be true or false")
	}
	return f, nil
}

func (s *Server) listDepartments(c *gin.Context) error {
	return listFiltered(c, directoryFilter, s.svc.ListDepartments)
}

func (s *Server) listMembers(c *gin.Context) error {
	return listFiltered(c, directoryFilter, s.svc.ListMembers)
}
