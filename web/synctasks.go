package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/service"
)

// syncTasksPage is the sync task list's data.
type syncTasksPage struct {
	List           models.List[service.SyncTask]
	Authenticators []service.Authenticator
	// Names names authenticators by id.
	Names map[uint64]string
	// Base is the list's URL with its filter, for the pager.
	Base string
}

func (u *UI) syncTasks(c *gin.Context) error {
	ctx := c.Request.Context()
	authID, _ := strconv.ParseUint(c.Query("authenticatorId"), 10, 64)
	list, err := u.d.Service.ListSyncTasks(ctx, authID, pageOf(c))
	if err != nil {
		return err
	}
	auths, err := u.authenticatorChoices(ctx)
	if err != nil {
		return err
	}
	page := syncTasksPage{List: list, Authenticators: auths, Names: authenticatorNames(auths), Base: "?"}
	form := map[string]string{}
	if authID != 0 {
		form["authenticatorId"] = strconv.FormatUint(authID, 10)
		page.Base = "?" + url.Values{"authenticatorId": {form["authenticatorId"]}}.Encode() + "&"
	}
	u.renderView(c, http.StatusOK, "sync_tasks", &view{Data: page, Form: form})
	return nil
}

// syncTaskPage is a sync task's detail; the page's script follows its progress.
type syncTaskPage struct {
	Task     service.SyncTask
	AuthName string
	Statuses []string
}

func (u *UI) syncTask(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	t, err := u.d.Service.GetSyncTask(c.Request.Context(), id)
	if err != nil {
		return err
	}
	page := syncTaskPage{Task: t, Statuses: service.SyncStatuses()}
	if a, err := u.d.Service.GetAuthenticator(c.Request.Context(), t.AuthenticatorID); err == nil {
		page.AuthName = a.Name
	}
	u.render(c, http.StatusOK, "sync_task", page)
	return nil
}

// retrySyncTask queues a failed sync task again and wakes the directory runner.
func (u *UI) retrySyncTask(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	t, err := u.d.Service.RetrySyncTask(c.Request.Context(), id)
	if err != nil {
		return err
	}
	return u.redirect(c, fmt.Sprintf("/ui/sync-tasks/%d", t.ID), "sync.flash.retried")
}

func authenticatorNames(auths []service.Authenticator) map[uint64]string {
	names := make(map[uint64]string, len(auths))
	for _, a := range auths {
		names[a.ID] = a.Name
	}
	return names
}
