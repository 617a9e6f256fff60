package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/message"
)

func (s *Server) templateRoutes(api *gin.RouterGroup) {
	api.GET("/templates", s.handle(s.listTemplates))
	api.POST("/templates", s.handle(s.createTemplate))
	api.GET("/templates/:id", s.handle(s.getTemplate))
	api.PATCH("/templates/:id", s.handle(withIDAndBody(s.messages.UpdateTemplate)))
	api.DELETE("/templates/:id", s.handle(deleteByID(s.messages.DeleteTemplate)))
}

func (s *Server) listTemplates(c *gin.Context) error {
	return listFiltered(c, func(c *gin.Context) (message.TemplateFilter, error) {
		return message.TemplateFilter{Name: c.Query("name"), Q: c.Query("q")}, nil
	}, s.messages.ListTemplates)
}

func (s *Server) getTemplate(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	t, err := s.messages.GetTemplate(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, t)
}

func (s *Server) createTemplate(c *gin.Context) error {
	body, err := bodyObject(c)
	if err != nil {
		return err
	}
	t, err := s.messages.CreateTemplate(c.Request.Context(), body)
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, t)
}
