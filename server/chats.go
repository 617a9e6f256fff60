package server

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/service"
	"github.com/wecomflow/wecomflow/workflow"
)

// chatRoutes are a wecom channel's app group chats (SPEC §9.3).
func (s *Server) chatRoutes(api *gin.RouterGroup) {
	api.GET("/channels/:id/chats", s.handle(s.listChats))
	api.POST("/channels/:id/chats", s.handle(s.createChat))
	api.GET("/channels/:id/chats/:chatid", s.handle(s.getChat))
	api.PATCH("/channels/:id/chats/:chatid", s.handle(s.updateChat))
}

// createChatNode makes a workflow chat node's chat through the service, as the REST route does.
func (s *Server) createChatNode(ctx context.Context, spec workflow.ChatSpec) (string, error) {
	chat, err := s.svc.CreateChatOn(ctx, spec.Channel, service.ChatInput{Name: spec.Name, Owner: spec.Owner, Users: spec.Users, ChatID: spec.ChatID})
	return chat.ChatID, err
}

func (s *Server) listChats(c *gin.Context) error {
	return listFiltered(c, func(c *gin.Context) (uint64, error) { return idParam(c) },
		func(ctx context.Context, channelID uint64, p models.Page) (models.List[service.Chat], error) {
			return s.svc.ListChats(ctx, channelID, p)
		})
}

func (s *Server) createChat(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in service.ChatInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	chat, err := s.svc.CreateChat(c.Request.Context(), id, in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, chat)
}

func (s *Server) getChat(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	chat, err := s.svc.GetChat(c.Request.Context(), id, c.Param("chatid"))
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, chat)
}

func (s *Server) updateChat(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in service.ChatChangeInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	chat, err := s.svc.UpdateChat(c.Request.Context(), id, c.Param("chatid"), in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, chat)
}
