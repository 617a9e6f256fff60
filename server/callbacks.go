package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/service"
)

func (s *Server) listCallbackEvents(c *gin.Context) error {
	p, err := pageOf(c)
	if err != nil {
		return err
	}
	authID, err := optionalID(c, "authenticatorId")
	if err != nil {
		return err
	}
	l, err := s.svc.ListCallbackEvents(c.Request.Context(), service.EventFilter{AuthenticatorID: authID, Kind: c.Query("kind"),
		Event: c.Query("event"), Status: c.Query("status")}, p)
	if err != nil {
		return err
	}
	return okList(c, l)
}

func (s *Server) getCallbackEvent(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	e, err := s.svc.GetCallbackEvent(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, e)
}
