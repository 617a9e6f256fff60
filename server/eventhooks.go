package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/service"
)

// eventHookRoutes registers the event hooks of SPEC §10.3 and their delivery log.
func (s *Server) eventHookRoutes(api *gin.RouterGroup) {
	api.GET("/event-hooks", s.handle(s.listEventHooks))
	api.POST("/event-hooks", s.handle(s.createEventHook))
	api.GET("/event-hooks/:id", s.handle(s.getEventHook))
	api.PATCH("/event-hooks/:id", s.handle(s.updateEventHook))
	api.DELETE("/event-hooks/:id", s.handle(s.deleteEventHook))
	api.GET("/event-hooks/:id/deliveries", s.handle(s.listHookDeliveries))
}

func (s *Server) listEventHooks(c *gin.Context) error {
	return listFiltered(c, func(*gin.Context) (struct{}, error) { return struct{}{}, nil },
		func(ctx context.Context, _ struct{}, p models.Page) (models.List[service.EventHook], error) {
			return s.svc.ListEventHooks(ctx, p)
		})
}

func (s *Server) getEventHook(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	h, err := s.svc.GetEventHook(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, h)
}

func (s *Server) createEventHook(c *gin.Context) error {
	var in service.EventHookInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	h, err := s.svc.CreateEventHook(c.Request.Context(), in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, h)
}

func (s *Server) updateEventHook(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in service.EventHookInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	h, err := s.svc.UpdateEventHook(c.Request.Context(), id, in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, h)
}

func (s *Server) deleteEventHook(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteEventHook(c.Request.Context(), id); err != nil {
		return err
	}
	return noContent(c)
}

func (s *Server) listHookDeliveries(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	return listFiltered(c, func(*gin.Context) (uint64, error) { return id, nil }, s.svc.ListHookAttempts)
}

// hookData is an event's data as the API shows it, read when the event is first posted: the
// execution for execution.*, the message (with its clicks) for message.*.
func (s *Server) hookData(ctx context.Context, typ, subject string) (any, error) {
	if strings.HasPrefix(typ, "execution.") {
		return s.workflows.GetExecution(ctx, subject)
	}
	return s.messages.Get(ctx, subject)
}
