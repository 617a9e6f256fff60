package server

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
)

func (s *Server) listUsers(c *gin.Context) error {
	p, err := pageOf(c)
	if err != nil {
		return err
	}
	l, err := s.svc.ListUsers(c.Request.Context(), service.UserFilter{Q: c.Query("q"), Source: c.Query("source")}, p)
	if err != nil {
		return err
	}
	return okList(c, l)
}

func (s *Server) getUser(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	u, err := s.svc.GetUser(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, u)
}

func (s *Server) createUser(c *gin.Context) error {
	var in service.UserInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	u, err := s.svc.CreateUser(c.Request.Context(), in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusCreated, u)
}

func (s *Server) updateUser(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in service.UserInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	u, err := s.svc.UpdateUser(c.Request.Context(), id, in)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, u)
}

func (s *Server) deleteUser(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteUser(c.Request.Context(), id); err != nil {
		return err
	}
	return noContent(c)
}

// bulkUsers takes the JSON array of {"userid", "set"} rows; anything but an array is a 400.
func (s *Server) bulkUsers(c *gin.Context) error {
	var rows []json.RawMessage
	if err := decodeJSON(c, &rows); err != nil {
		return err
	}
	res, err := s.svc.BulkUpsertUsers(c.Request.Context(), rows)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, res)
}

func (s *Server) importUsers(c *gin.Context) error {
	name, content, err := formFile(c, "the spreadsheet")
	if err != nil {
		return err
	}
	res, err := s.svc.ImportUsers(c.Request.Context(), name, content)
	if err != nil {
		return err
	}
	return ok(c, http.StatusOK, res)
}

// formFile reads the multipart field "file" whole (the body limit bounds it); what names the
// expected file in the error.
func formFile(c *gin.Context, what string) (filename string, content []byte, err error) {
	fh, err := c.FormFile("file")
	if err != nil {
		if isTooLarge(err) {
			return "", nil, err
		}
		return "", nil, problem.Invalidf("file", "is required: send %s as multipart/form-data field \"file\"", what)
	}
	f, err := fh.Open()
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	content, err = io.ReadAll(f)
	return fh.Filename, content, err
}
