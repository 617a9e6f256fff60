package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// The lists' shared mechanics: a page of 50, filters read from the query and shown again, the
// pager's base URL, and time filters as the browser's datetime-local inputs send them.

// pageOf reads ?page= for a list.
func pageOf(c *gin.Context) models.Page {
	p, _ := strconv.Atoi(c.Query("page"))
	return models.Page{Page: p, Size: 50}.Normalize()
}

// renderList shows a filtered list; the service's complaints about a filter are shown on the
// filter's field, other errors propagate.
func (u *UI) renderList(c *gin.Context, page string, data any, err error) error {
	form := map[string]string{}
	for k, v := range c.Request.URL.Query() {
		if len(v) > 0 {
			form[k] = v[0]
		}
	}
	if err == nil {
		u.renderView(c, http.StatusOK, page, &view{Data: data, Form: form})
		return nil
	}
	var se *problem.Error
	if !errors.As(err, &se) || se.Code != problem.CodeValidation {
		return err
	}
	u.renderView(c, se.Code.Status(), page, &view{Data: data, Form: form, Errors: se.Fields})
	return nil
}

// listBase is the list's URL with the filters among keys that are set, ready for "page=".
func listBase(c *gin.Context, keys ...string) string {
	q := url.Values{}
	for _, k := range keys {
		if v := c.Query(k); v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return "?"
	}
	return "?" + q.Encode() + "&"
}

// filterTime takes a time filter as RFC 3339 or as a datetime-local input sends it
// (2026-01-02T15:04, read in the page's time zone, the one its times are shown in), and gives
// RFC 3339; anything else goes on for the service to reject on the field.
func (u *UI) filterTime(c *gin.Context, v string) string {
	v = strings.TrimSpace(v)
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, u.zone(u.language(c))); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return v
}
