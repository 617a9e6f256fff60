package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/service"
)

func (s *Server) accountRoutes(api *gin.RouterGroup) {
	api.GET("/accounts/me", s.handle(s.me))
	api.GET("/accounts", s.handle(s.listAccounts))
	api.POST("/accounts", s.handle(s.createAccount))
	api.GET("/accounts/:id", s.handle(s.getAccount))
	api.PATCH("/accounts/:id", s.handle(s.updateAccount))
	api.DELETE("/accounts/:id", s.handle(s.deleteAccount))
	api.GET("/audit", s.handle(s.listAudit))
}

func (s *Server) me(c *gin.Context) error {
	me, err := s.svc.Me(c.Request.Context())
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, me)
}

func (s *Server) listAccounts(c *gin.Context) error {
	p, err := pageOf(c)
	if err != nil {
		return err
	}
	l, err := s.svc.ListAccounts(c.Request.Context(), service.AccountFilter{Q: c.Query("q"), Role: c.Query("role")}, p)
	if err != nil {
		return err
	}
	return okList(c, l)
}

func (s *Server) getAccount(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	a, err := s.svc.GetAccount(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, a)
}

func (s *Server) createAccount(c *gin.Context) error {
	var in service.AccountInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, err := s.svc.CreateAccount(c.Request.Context(), in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, a)
}

func (s *Server) updateAccount(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in service.AccountInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, err := s.svc.UpdateAccount(c.Request.Context(), id, in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, a)
}

func (s *Server) deleteAccount(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteAccount(c.Request.Context(), id); err != nil {
		return err
	}
	return noContent(c)
}

func (s *Server) listAudit(c *gin.Context) error {
	p, err := pageOf(c)
	if err != nil {
		return err
	}
	l, err := s.svc.ListAudit(c.Request.Context(), service.AuditQuery{Actor: c.Query("actor"), Action: c.Query("action"),
		TargetType: c.Query("targetType"), Since: c.Query("since"), Until: c.Query("until")}, p)
	if err != nil {
		return err
	}
	return okList(c, l)
}
