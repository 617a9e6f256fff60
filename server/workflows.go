package server

import (
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/workflow"
)

func (s *Server) workflowRoutes(api *gin.RouterGroup) {
	api.GET("/workflows", s.handle(s.listWorkflows))
	api.POST("/workflows", s.handle(s.createWorkflow))
	api.GET("/workflows/:id", s.handle(s.getWorkflow))
	api.PATCH("/workflows/:id", s.handle(withIDAndBody(s.workflows.UpdateWorkflow)))
	api.DELETE("/workflows/:id", s.handle(deleteByID(s.workflows.DeleteWorkflow)))
	api.POST("/workflows/:id/trigger", s.handle(s.triggerWorkflow))
	api.GET("/executions", s.handle(s.listExecutions))
	api.GET("/executions/:id", s.handle(s.getExecution))
	api.POST("/executions/:id/cancel", s.handle(s.cancelExecution))
}

func (s *Server) listWorkflows(c *gin.Context) error {
	return listFiltered(c, func(c *gin.Context) (workflow.WorkflowFilter, error) {
		return workflow.WorkflowFilter{Q: c.Query("q"), TriggerType: c.Query("triggerType"), Enabled: c.Query("enabled")}, nil
	}, s.workflows.ListWorkflows)
}

func (s *Server) createWorkflow(c *gin.Context) error {
	body, err := bodyObject(c)
	if err != nil {
		return err
	}
	w, err := s.workflows.CreateWorkflow(c.Request.Context(), body)
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, w)
}

func (s *Server) getWorkflow(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	w, err := s.workflows.GetWorkflow(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, w)
}

// triggerWorkflow starts a manual execution with the body's "data" (the body may be empty).
func (s *Server) triggerWorkflow(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	wait, err := waitParam(c)
	if err != nil {
		return err
	}
	var data any
	if c.Request.ContentLength != 0 {
		body, err := bodyObject(c)
		if err != nil {
			return err
		}
		for k := range body {
			if k != "data" {
				return problem.Invalidf(k, "unknown field: the body is {\"data\": …}")
			}
		}
		data = body["data"]
	}
	x, err := s.workflows.TriggerWorkflow(c.Request.Context(), id, data)
	if err != nil {
		return err
	}
	if wait > 0 {
		if x, err = s.workflows.WaitExecution(c.Request.Context(), x.ID, wait); err != nil {
			return err
		}
	}
	return ok(c, http.StatusAccepted, x)
}

// webhook is the public trigger URL of webhook workflows, authenticated by the body's HMAC.
func (s *Server) webhook(c *gin.Context) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return err
	}
	x, err := s.workflows.Webhook(c.Request.Context(), c.Param("key"), body, c.Request.Header, c.Request.URL.Query())
	if err != nil {
		return err
	}
	return ok(c, http.StatusAccepted, x)
}

func (s *Server) listExecutions(c *gin.Context) error {
	return listFiltered(c, func(c *gin.Context) (workflow.ExecutionFilter, error) {
		return workflow.ExecutionFilter{Status: c.Query("status"), WorkflowID: c.Query("workflowId")}, nil
	}, s.workflows.ListExecutions)
}

func (s *Server) getExecution(c *gin.Context) error {
	x, err := s.workflows.GetExecution(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, x)
}

func (s *Server) cancelExecution(c *gin.Context) error {
	x, err := s.workflows.CancelExecution(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, x)
}
