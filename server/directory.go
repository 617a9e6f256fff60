package server

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
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
	api.GET("/directory/tags", s.handle(s.listTags))
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
	return ok(c, http.StatusAccepted, t)
}

func (s *Server) listSyncTasks(c *gin.Context) error {
	byAuthenticator := func(c *gin.Context) (uint64, error) { return optionalID(c, "authenticatorId") }
	return listFiltered(c, byAuthenticator, s.svc.ListSyncTasks)
}

// listFiltered answers a list route: the page, then filter's reading of the query, then list's
// page of results; the first error is the answer.
func listFiltered[F, T any](c *gin.Context, filter func(*gin.Context) (F, error), list func(context.Context, F, models.Page) (models.List[T], error)) error {
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
		return f, problem.Invalidf("deleted", "must be true or false")
	}
	return f, nil
}

func (s *Server) listDepartments(c *gin.Context) error {
	return listFiltered(c, directoryFilter, s.svc.ListDepartments)
}

func (s *Server) listMembers(c *gin.Context) error {
	return listFiltered(c, directoryFilter, s.svc.ListMembers)
}

// tagFilter reads ?authenticatorId=&q=.
func tagFilter(c *gin.Context) (service.TagFilter, error) {
	id, err := optionalID(c, "authenticatorId")
	return service.TagFilter{AuthenticatorID: id, Q: c.Query("q")}, err
}

func (s *Server) listTags(c *gin.Context) error {
	return listFiltered(c, tagFilter, s.svc.ListTags)
}
