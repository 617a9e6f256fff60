package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

type itemBody struct {
	Data any `json:"data"`
}

type listBody struct {
	Data     any   `json:"data"`
	Total    int64 `json:"total"`
	Page     int   `json:"page"`
	PageSize int   `json:"pageSize"`
}

func ok(c *gin.Context, status int, v any) error {
	c.JSON(status, itemBody{Data: v})
	return nil
}

func okList[T any](c *gin.Context, l models.List[T]) error {
	c.JSON(http.StatusOK, listBody{Data: l.Items, Total: l.Total, Page: l.Page.Page, PageSize: l.Page.Size})
	return nil
}

func noContent(c *gin.Context) error {
	c.Status(http.StatusNoContent)
	return nil
}

// pageOf reads ?page=&pageSize=.
func pageOf(c *gin.Context) (models.Page, error) {
	errs := problem.Fields{}
	p := models.Page{Page: queryInt(c, "page", errs), Size: queryInt(c, "pageSize", errs)}
	if p.Page > models.MaxPage {
		errs.Add("page", fmt.Sprintf("must be at most %d", models.MaxPage))
	}
	if len(errs) > 0 {
		return p, problem.Invalid(errs)
	}
	return p.Normalize(), nil
}

func queryInt(c *gin.Context, name string, errs problem.Fields) int {
	v := c.Query(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		errs.Add(name, "must be a positive integer")
	}
	return n
}

// idParam reads the :id path segment.
func idParam(c *gin.Context) (uint64, error) { return problem.ParseID(c.Param("id")) }

// withIDAndBody is the handler of a request on the resource with the route's :id whose body is a
// JSON object (a PATCH, a channel test): 200 with what do answers.
func withIDAndBody[T any](do func(ctx context.Context, id uint64, body map[string]any) (T, error)) func(*gin.Context) error {
	return func(c *gin.Context) error {
		id, err := idParam(c)
		if err != nil {
			return err
		}
		body, err := bodyObject(c)
		if err != nil {
			return err
		}
		v, err := do(c.Request.Context(), id, body)
		if err != nil {
			return err
		}
		return ok(c, http.StatusOK, v)
	}
}

// deleteByID is the handler of a DELETE of the resource with the route's :id: 204.
func deleteByID(remove func(ctx context.Context, id uint64) error) func(*gin.Context) error {
	return func(c *gin.Context) error {
		id, err := idParam(c)
		if err != nil {
			return err
		}
		if err := remove(c.Request.Context(), id); err != nil {
			return err
		}
		return noContent(c)
	}
}

// optionalID reads an optional positive integer filter.
func optionalID(c *gin.Context, name string) (uint64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseUint(v, 10, 64)
	if err != nil || id == 0 {
		return 0, problem.Invalidf(name, "must be a positive integer")
	}
	return id, nil
}
