package server

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/service"
)

func (s *Server) listChannels(c *gin.Context) error {
	return listFiltered(c, func(c *gin.Context) (uint64, error) { return optionalID(c, "authenticatorId") },
		func(ctx context.Context, authID uint64, p models.Page) (models.List[service.Channel], error) {
			return s.svc.ListChannels(ctx, c.Query("q"), authID, p)
		})
}

func (s *Server) getChannel(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	ch, err := s.svc.GetChannel(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, ch)
}

func (s *Server) createChannel(c *gin.Context) error {
	var in service.ChannelInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	ch, err := s.svc.CreateChannel(c.Request.Context(), in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, ch)
}

func (s *Server) updateChannel(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in service.ChannelInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	ch, err := s.svc.UpdateChannel(c.Request.Context(), id, in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, ch)
}

func (s *Server) deleteChannel(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteChannel(c.Request.Context(), id); err != nil {
		return err
	}
	return noContent(c)
}
