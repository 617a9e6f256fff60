package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/wecomflow/wecomflow/problem"
)

// errorBody is the one error shape of the API.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    problem.Code   `json:"code"`
	Message string         `json:"message"`
	Fields  problem.Fields `json:"fields,omitempty"`
}

// handler is a REST handler: it writes its success response and returns any error, which
// handle turns into the error response.
type handler func(c *gin.Context) error

func (s *Server) handle(h handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.writeError(c, err)
		}
	}
}

// writeError is the single place an error becomes a response. Internal causes go to the log; the
// client gets the catalogue code and a sentence, never SQL or a stack.
func (s *Server) writeError(c *gin.Context, err error) {
	var se *problem.Error
	if !errors.As(err, &se) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			se = problem.Errorf(problem.CodeTooLarge, "The body is larger than the limit of %d bytes.", mbe.Limit)
		} else {
			se = &problem.Error{Code: problem.CodeInternal, Message: "Something went wrong on the server; the log has the details.", Err: err}
		}
	}
	if se.Code == problem.CodeInternal {
		s.log.ErrorContext(c.Request.Context(), "request failed", "route", c.FullPath(), "method", c.Request.Method, "err", err)
	}
	if se.Code == problem.CodeUnauthorized && strings.HasPrefix(c.Request.URL.Path, "/api/") {
		c.Header("WWW-Authenticate", `Bearer realm="wecomflow"`)
	}
	if se.Code == problem.CodeRateLimited {
		c.Header("Retry-After", strconv.Itoa(se.RetrySeconds()))
	}
	if s.ui != nil {
		se = s.ui.InLanguage(c.GetHeader("Accept-Language"), se)
	}
	c.AbortWithStatusJSON(se.Code.Status(), errorBody{Error: errorDetail{Code: se.Code, Message: se.Message, Fields: se.Fields}})
}

// decodeJSON reads one JSON value into v: 400 for a body that is not JSON, 422 naming the field
// for a value of the wrong type, 413 past the body limit.
func decodeJSON(c *gin.Context, v any) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return problem.Errorf(problem.CodeBadRequest, "The request body is empty; send a JSON object.")
	}
	if path, bad := invalidUTF8(body); bad {
		return problem.Invalidf(path, "is not valid UTF-8 text")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	// Numbers in free-form JSON (send data, options) stay exact: an order id of 19 digits must not
	// come back rounded through float64.
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return problem.Errorf(problem.CodeBadRequest, "The body has data after the JSON value.")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return problem.Errorf(problem.CodeBadRequest, "The body is not valid JSON: %v (at byte %d).", syn, syn.Offset)
	case errors.As(err, &te) && te.Field == "":
		return problem.Errorf(problem.CodeBadRequest, "The body must be a JSON %s.", jsonType(te.Type.Kind().String()))
	case errors.As(err, &te):
		return problem.Invalid(problem.Fields{te.Field: "must be " + problem.KindName(te.Type.Kind().String())})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.Errorf(problem.CodeBadRequest, "The body is not valid JSON: it ends too early.")
	default:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return problem.Errorf(problem.CodeBadRequest, "The body is not valid JSON: %v.", err)
	}
}

// isTooLarge reports whether err is the body limit being hit.
func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func jsonType(kind string) string {
	if kind == "slice" {
		return "array"
	}
	return "object"
}
