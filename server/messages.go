package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/problem"
)

// maxWait bounds ?wait=: long enough for a retry or two, short enough for any proxy.
const maxWait = 60 * time.Second

// waitParam reads ?wait=10s.
func waitParam(c *gin.Context) (time.Duration, error) {
	v := c.Query("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > maxWait {
		return 0, problem.Invalidf("wait", "must be a duration between 0s and %s, like 10s", maxWait)
	}
	return d, nil
}

// bodyObject decodes the body as one JSON object (numbers kept exact, see decodeJSON).
func bodyObject(c *gin.Context) (map[string]any, error) {
	var body map[string]any
	if err := decodeJSON(c, &body); err != nil {
		return nil, err
	}
	return body, nil
}

func (s *Server) sendMessage(c *gin.Context) error {
	wait, err := waitParam(c)
	if err != nil {
		return err
	}
	body, err := bodyObject(c)
	if err != nil {
		return err
	}
	m, err := s.messages.SendWait(c.Request.Context(), message.Request{Body: body, TriggerFrom: message.FromAPI}, wait)
	if err != nil {
		return err
	}
	return ok(c, http.StatusAccepted, m)
}

func (s *Server) listMessages(c *gin.Context) error {
	return listFiltered(c, func(c *gin.Context) (message.Filter, error) {
		return message.Filter{Status: c.Query("status"), Channel: c.Query("channel"), ExecutionID: c.Query("executionId"),
			Since: c.Query("since"), Until: c.Query("until")}, nil
	}, s.messages.List)
}

func (s *Server) getMessage(c *gin.Context) error {
	m, err := s.messages.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, m)
}

// respondMessage runs a message action (retry, cancel, recall) on the message of the path.
func (s *Server) respondMessage(c *gin.Context, action func(ctx context.Context, id string) (message.View, error)) error {
	m, err := action(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, m)
}

func (s *Server) retryMessage(c *gin.Context) error {
	return s.respondMessage(c, s.messages.Retry)
}

func (s *Server) cancelMessage(c *gin.Context) error {
	return s.respondMessage(c, s.messages.Cancel)
}

func (s *Server) recallMessage(c *gin.Context) error {
	return s.respondMessage(c, s.messages.Recall)
}

func (s *Server) render(c *gin.Context) error {
	body, err := bodyObject(c)
	if err != nil {
		return err
	}
	out, warnings, err := s.workflows.Render(c.Request.Context(), body)
	if err != nil {
		return err
	}
	if s.ui != nil {
		// The editor's preview shows them, like the API's errors, in the page's language.
		warnings = s.ui.SaidIn(c.GetHeader("Accept-Language"), warnings)
	}
	return ok(c, http.StatusOK, gin.H{"body": out, "warnings": warnings})
}

func (s *Server) uploadMedia(c *gin.Context) error {
	name, content, err := formFile(c, "the file")
	if err != nil {
		return err
	}
	m, err := s.messages.UploadMedia(c.Request.Context(), c.PostForm("channel"), c.PostForm("type"), name, content)
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, m)
}

func (s *Server) checkAuthenticator(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	res, err := s.svc.CheckAuthenticator(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, res)
}
