package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/service"
	"github.com/wecomflow/wecomflow/worker"
)

// massRefreshPoll is how often the leader looks for mass messages due for a refresh; each is due
// every 5 minutes, so a new leader catches up within this.
const massRefreshPoll = 30 * time.Second

// massMessageRoutes registers customer mass messaging (SPEC §9.5).
func (s *Server) massMessageRoutes(api *gin.RouterGroup) {
	api.POST("/mass-messages", s.handle(s.createMassMessage))
	api.GET("/mass-messages", s.handle(s.listMassMessages))
	api.GET("/mass-messages/:id", s.handle(s.getMassMessage))
	api.POST("/mass-messages/:id/refresh", s.handle(s.massMessageAction(s.svc.RefreshMassMessage)))
	api.POST("/mass-messages/:id/remind", s.handle(s.massMessageAction(s.svc.RemindMassMessage)))
	api.POST("/mass-messages/:id/cancel", s.handle(s.massMessageAction(s.svc.CancelMassMessage)))
}

func (s *Server) createMassMessage(c *gin.Context) error {
	var in service.MassMessageInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	m, err := s.svc.CreateMassMessage(c.Request.Context(), in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, m)
}

func (s *Server) listMassMessages(c *gin.Context) error {
	filter := func(c *gin.Context) (service.MassMessageFilter, error) {
		id, err := optionalID(c, "authenticatorId")
		return service.MassMessageFilter{AuthenticatorID: id, Status: c.Query("status")}, err
	}
	return listFiltered(c, filter, s.svc.ListMassMessages)
}

func (s *Server) getMassMessage(c *gin.Context) error {
	return s.massMessageAction(s.svc.GetMassMessage)(c)
}

// massMessageAction answers a route on one mass message with what action returns.
func (s *Server) massMessageAction(action func(context.Context, uint64) (service.MassMessage, error)) func(*gin.Context) error {
	return func(c *gin.Context) error {
		id, err := idParam(c)
		if err != nil {
			return err
		}
		m, err := action(c.Request.Context(), id)
		if err != nil {
			return err
		}
		return ok(c, http.StatusOK, m)
	}
}

// runMassRefresh refreshes the mass messages that are due while this instance leads.
func (s *Server) runMassRefresh(ctx context.Context) error {
	worker.Run(ctx, nil, massRefreshPoll, func(ctx context.Context) {
		if s.elector.Leading() {
			s.svc.RefreshDueMassMessages(ctx)
		}
	})
	return nil
}
