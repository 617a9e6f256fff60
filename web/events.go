package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/callback"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/service"
)

// eventsPage is the callback event list's data.
type eventsPage struct {
	List     models.List[service.CallbackEvent]
	Kinds    []string
	Statuses []string
	Base     string
}

func (u *UI) callbackEvents(c *gin.Context) error {
	data := eventsPage{Kinds: []string{callback.KindApp, callback.KindContacts},
		Statuses: service.EventStatuses(), Base: listBase(c, "kind", "event", "status")}
	var err error
	data.List, err = u.d.Service.ListCallbackEvents(c.Request.Context(),
		service.EventFilter{Kind: c.Query("kind"), Event: strings.TrimSpace(c.Query("event")), Status: c.Query("status")}, pageOf(c))
	return u.renderList(c, "callback_events", data, err)
}

// eventPage is a callback event's detail.
type eventPage struct {
	E       service.CallbackEvent
	Payload string
	// CreateTime is the event's CreateTime (Unix seconds) as a time.
	CreateTime time.Time
}

func (u *UI) callbackEvent(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	e, err := u.d.Service.GetCallbackEvent(c.Request.Context(), id)
	if err != nil {
		return err
	}
	u.render(c, http.StatusOK, "callback_event", eventPage{E: e, Payload: prettyJSON(e.Payload), CreateTime: time.Unix(e.CreateTime, 0).UTC()})
	return nil
}
