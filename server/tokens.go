package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/service"
)

func (s *Server) createToken(c *gin.Context) error {
	var in service.TokenInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	t, err := s.svc.CreateToken(c.Request.Context(), in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, t)
}

func (s *Server) listTokens(c *gin.Context) error {
	ts, err := s.svc.ListTokens(c.Request.Context())
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, ts)
}

func (s *Server) revokeToken(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.svc.RevokeToken(c.Request.Context(), id); err != nil {
		return err
	}
	return noContent(c)
}
