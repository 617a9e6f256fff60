package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/service"
)

func (s *Server) listAuthenticators(c *gin.Context) error {
	p, err := pageOf(c)
	if err != nil {
		return err
	}
	l, err := s.svc.ListAuthenticators(c.Request.Context(), c.Query("q"), p)
	if err != nil {
		return err
	}
	return okList(c, l)
}

func (s *Server) getAuthenticator(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	a, err := s.svc.GetAuthenticator(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, a)
}

func (s *Server) createAuthenticator(c *gin.Context) error {
	var in service.AuthenticatorInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, err := s.svc.CreateAuthenticator(c.Request.Context(), in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, a)
}

func (s *Server) updateAuthenticator(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in service.AuthenticatorInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	a, err := s.svc.UpdateAuthenticator(c.Request.Context(), id, in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, a)
}

func (s *Server) deleteAuthenticator(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteAuthenticator(c.Request.Context(), id); err != nil {
		return err
	}
	return noContent(c)
}
