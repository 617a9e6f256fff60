package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/service"
)

// eventHooksPage is the list of event hooks.
type eventHooksPage struct {
	List models.List[service.EventHook]
	Base string
}

// eventHookPage is a hook's form and, once it exists, its delivery log.
type eventHookPage struct {
	// Hook is nil for a new hook.
	Hook   *service.EventHook
	Types  []string
	Log    models.List[service.HookAttempt]
	LogURL string
}

func (u *UI) eventHooks(c *gin.Context) error {
	list, err := u.d.Service.ListEventHooks(c.Request.Context(), pageOf(c))
	return u.renderList(c, "event_hooks", eventHooksPage{List: list, Base: "?"}, err)
}

func (u *UI) newEventHook(c *gin.Context) error {
	u.renderView(c, http.StatusOK, "event_hook", &view{Data: eventHookPage{Types: models.HookEventTypes()},
		Form: map[string]string{"enabled": "on"}, Picked: url.Values{"events": models.HookEventTypes()}})
	return nil
}

// eventHookData reads the hook of :id and a page of its delivery log.
func (u *UI) eventHookData(c *gin.Context) (eventHookPage, error) {
	id, err := idParam(c)
	if err != nil {
		return eventHookPage{}, err
	}
	h, err := u.d.Service.GetEventHook(c.Request.Context(), id)
	if err != nil {
		return eventHookPage{}, err
	}
	log, err := u.d.Service.ListHookAttempts(c.Request.Context(), id, pageOf(c))
	if err != nil {
		return eventHookPage{}, err
	}
	return eventHookPage{Hook: &h, Types: models.HookEventTypes(), Log: log, LogURL: "?"}, nil
}

func (u *UI) editEventHook(c *gin.Context) error {
	data, err := u.eventHookData(c)
	if err != nil {
		return err
	}
	form := map[string]string{"url": data.Hook.URL}
	if data.Hook.Enabled {
		form["enabled"] = "on"
	}
	u.renderView(c, http.StatusOK, "event_hook", &view{Data: data, Form: form, Picked: url.Values{"events": data.Hook.Events}})
	return nil
}

// eventHookInput is the form as the API's body. Unticked boxes are not sent, so events and
// enabled are always given; an empty secret keeps the one set (it is never shown).
func eventHookInput(c *gin.Context) service.EventHookInput {
	target, events, enabled := strings.TrimSpace(c.PostForm("url")), c.PostFormArray("events"), c.PostForm("enabled") == "on"
	in := service.EventHookInput{URL: &target, Events: &events, Enabled: &enabled}
	if s := c.PostForm("secret"); s != "" {
		in.Secret = &s
	}
	return in
}

func (u *UI) createEventHook(c *gin.Context) error {
	h, err := u.d.Service.CreateEventHook(c.Request.Context(), eventHookInput(c))
	if err != nil {
		return u.formError(c, "event_hook", err, eventHookPage{Types: models.HookEventTypes()})
	}
	return u.redirect(c, fmt.Sprintf("/ui/event-hooks/%d", h.ID), "flash.saved")
}

func (u *UI) updateEventHook(c *gin.Context) error {
	data, err := u.eventHookData(c)
	if err != nil {
		return err
	}
	if _, err := u.d.Service.UpdateEventHook(c.Request.Context(), data.Hook.ID, eventHookInput(c)); err != nil {
		return u.formError(c, "event_hook", err, data)
	}
	return u.redirect(c, fmt.Sprintf("/ui/event-hooks/%d", data.Hook.ID), "flash.saved")
}

func (u *UI) deleteEventHook(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := u.d.Service.DeleteEventHook(c.Request.Context(), id); err != nil {
		return err
	}
	return u.redirect(c, "/ui/event-hooks", "flash.deleted")
}
