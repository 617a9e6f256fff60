package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/service"
)

func (s *Server) listCallbackEvents(c *gin.Context) error {
	return listFiltered(c, func(c *gin.Context) (service.EventFilter, error) {
		authID, err := optionalID(c, "authenticatorId")
		return service.EventFilter{AuthenticatorID: authID, Kind: c.Query("kind"), Event: c.Query("event"), Status: c.Query("status")}, err
	}, s.svc.ListCallbackEvents)
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
