package workflow

import (
	"context"
	"fmt"
	"slices"

	"github.com/wecomflow/wecomflow/callback"
)

// HandleEvent is the callback subscriber of wecom_event triggers: every enabled workflow whose
// trigger names the event's authenticator and its event (or message type), and whose filter
// expression holds, gets one execution with the decrypted callback as $context.data. A callback
// processed again starts nothing new.
func (e *Engine) HandleEvent(ctx context.Context, ev *callback.Event) error {
	wfs, err := e.store.RecentEnabledWorkflows(ctx, TriggerWeComEvent)
	if err != nil || len(wfs) == 0 {
		return err
	}
	name := ""
	for i := range wfs {
		w := &wfs[i]
		def, err := e.definition(ctx, w.ID, w.Version)
		if err != nil {
			return err
		}
		cfg := def.Trigger.Config
		events := stringList(cfg["events"])
		if !slices.Contains(events, ev.Event) && !slices.Contains(events, ev.MsgType) {
			continue
		}
		if name == "" {
			a, err := e.store.GetAuthenticator(ctx, ev.AuthenticatorID)
			if err != nil {
				return err
			}
			name = a.Name
		}
		if str(cfg, "authenticator") != name {
			continue
		}
		context := map[string]any{"data": ev.Payload}
		if src := str(cfg, "expression"); src != "" {
			x, err := e.expression(src)
			if err != nil {
				continue // validated at save; a definition cannot change
			}
			ok, _, err := x.Eval(Vars{Context: context, Env: e.opts.TemplateEnv, Now: e.store.Now().In(e.opts.Location)})
			if err != nil {
				e.log.WarnContext(ctx, "wecom_event filter failed; the workflow does not start", "workflow_id", w.ID, "error", err)
				continue
			}
			if !ok {
				continue
			}
		}
		if _, _, err := e.start(ctx, w, TriggerWeComEvent, context, fmt.Sprintf("event:%d", ev.ID)); err != nil {
			return err
		}
	}
	return nil
}
