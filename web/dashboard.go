package web

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/service"
	"github.com/wecomflow/wecomflow/workflow"
)

// dashboardLimit bounds each block of the dashboard: a count and the latest few.
const dashboardLimit = 5

// dashboardPage is what needs attention now; a block is nil when the viewer may not open its
// pages.
type dashboardPage struct {
	Failed, Retrying, Scheduled *models.List[message.View]
	Waiting                     *models.List[workflow.Execution]
	// Titles name the waiting executions' workflows by id.
	Titles map[uint64]string
	// Authenticators carry their last callback and sync, each block when the viewer may see it.
	Authenticators []authenticatorNow
	Callbacks      bool
	Syncs          bool
}

// authenticatorNow is an authenticator's last callback and last sync (nil: never).
type authenticatorNow struct {
	service.Authenticator
	LastCallback *service.CallbackEvent
	LastSync     *service.SyncTask
}

func (u *UI) dashboard(c *gin.Context) error {
	ctx := c.Request.Context()
	// The blocks are read only when the viewer may open their pages.
	v := &view{Who: session(c).Principal}
	can := func(route string) bool { return v.Can(http.MethodGet, route) }
	few := models.Page{Page: 1, Size: dashboardLimit}
	var p dashboardPage
	if can("/ui/messages") {
		for dst, f := range map[**models.List[message.View]]message.Filter{&p.Failed: {Status: models.MessageFailed},
			&p.Retrying: {Status: models.MessageRetrying}, &p.Scheduled: {Status: models.MessageScheduled, DueFirst: true}} {
			list, err := u.d.Messages.List(ctx, f, few)
			if err != nil {
				return err
			}
			*dst = &list
		}
	}
	if can("/ui/executions") {
		list, err := u.d.Workflows.ListExecutions(ctx, workflow.ExecutionFilter{Status: models.ExecutionWaiting}, few)
		if err != nil {
			return err
		}
		p.Waiting, p.Titles = &list, map[uint64]string{}
		for _, x := range list.Items {
			if _, ok := p.Titles[x.WorkflowID]; !ok {
				if w, err := u.d.Workflows.GetWorkflow(ctx, x.WorkflowID); err == nil {
					p.Titles[x.WorkflowID] = workflowName(w)
				}
			}
		}
	}
	p.Callbacks, p.Syncs = can("/ui/callback-events"), can("/ui/sync-tasks")
	if (p.Callbacks || p.Syncs) && can("/ui/authenticators") {
		var err error
		if p.Authenticators, err = u.authenticatorsNow(ctx, p.Callbacks, p.Syncs); err != nil {
			return err
		}
	}
	v.Data = p
	u.renderView(c, http.StatusOK, "dashboard", v)
	return nil
}

// authenticatorsNow reads each authenticator's last callback and last sync: one row each.
func (u *UI) authenticatorsNow(ctx context.Context, callbacks, syncs bool) ([]authenticatorNow, error) {
	auths, err := u.authenticatorChoices(ctx)
	if err != nil {
		return nil, err
	}
	last := models.Page{Page: 1, Size: 1}
	out := make([]authenticatorNow, len(auths))
	for i, a := range auths {
		out[i].Authenticator = a
		if callbacks {
			evs, err := u.d.Service.ListCallbackEvents(ctx, service.EventFilter{AuthenticatorID: a.ID}, last)
			if err != nil {
				return nil, err
			}
			if len(evs.Items) > 0 {
				out[i].LastCallback = &evs.Items[0]
			}
		}
		if syncs {
			tasks, err := u.d.Service.ListSyncTasks(ctx, a.ID, last)
			if err != nil {
				return nil, err
			}
			if len(tasks.Items) > 0 {
				out[i].LastSync = &tasks.Items[0]
			}
		}
	}
	return out, nil
}
