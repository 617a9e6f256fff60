package server

import (
	"context"
	"strings"
	"testing"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// A vote and a multiple_interaction card, answered: $jobs.ask.response.selected is the picked
// options per question, which a condition reads; the raw selectedItems stays beside it, and the
// message's responses carry the same map.
func TestCardResponseSelectedIsNormalized(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	user := e.demo.UserIDs[0]
	w := e.webLogin()
	cards := []struct {
		key  string
		card map[string]any
		pick []wecomtest.SelectedItem
		want string
		// shown is how the message's page shows the picks.
		shown string
		// cond holds for the picks.
		cond string
	}{
		{"vote", map[string]any{"card_type": "vote_interaction", "main_title": map[string]any{"title": "Lunch?"},
			"checkbox": map[string]any{"question_key": "q1", "mode": 1, "option_list": []any{
				map[string]any{"id": "opt1", "text": "Noodles"}, map[string]any{"id": "opt2", "text": "Rice"}, map[string]any{"id": "opt3", "text": "Soup"}}},
			"submit_button": map[string]any{"text": "Vote", "key": "submit"}},
			[]wecomtest.SelectedItem{{QuestionKey: "q1", OptionIDs: []string{"opt1", "opt2"}}}, `{"q1":["opt1","opt2"]}`, `<code>q1</code>: opt1, opt2`,
			`"opt1" in $jobs.ask.response.selected.q1 && "opt2" in $jobs.ask.response.selected.q1 && len($jobs.ask.response.selected.q1) == 2`},
		{"multi", map[string]any{"card_type": "multiple_interaction", "main_title": map[string]any{"title": "Trip"},
			"select_list": []any{
				map[string]any{"question_key": "budget", "option_list": []any{map[string]any{"id": "travel", "text": "Travel"}, map[string]any{"id": "hotel", "text": "Hotel"}}},
				map[string]any{"question_key": "approver", "option_list": []any{map[string]any{"id": "lisi", "text": "Li Si"}, map[string]any{"id": "wangwu", "text": "Wang Wu"}}}},
			"submit_button": map[string]any{"text": "OK", "key": "submit"}},
			[]wecomtest.SelectedItem{{QuestionKey: "budget", OptionIDs: []string{"hotel"}}, {QuestionKey: "approver", OptionIDs: []string{"wangwu"}}},
			`{"approver":["wangwu"],"budget":["hotel"]}`, `<code>approver</code>: wangwu</p><p><code>budget</code>: hotel`,
			`"hotel" in $jobs.ask.response.selected.budget && "wangwu" in $jobs.ask.response.selected.approver`},
	}
	for i, c := range cards {
		c.card["task_id"] = "pick_" + c.key
		e.must(201, "POST", "/api/v1/workflows", map[string]any{"key": c.key, "title": "Pick " + c.key,
			"trigger": map[string]any{"type": "webhook", "config": map[string]any{"secret": hookSecret}},
			"nodes": []any{
				map[string]any{"key": "ask", "type": "notification", "config": map[string]any{
					"channel": "ops", "to": map[string]any{"users": []any{"local-" + user}}, "msgtype": "template_card",
					"template_card": c.card, "waitForResponse": map[string]any{"timeout": "1h"}}},
				map[string]any{"key": "picked", "type": "condition", "config": map[string]any{"expression": c.cond},
					"branches": map[string]any{"true": []any{}, "false": []any{}}},
			}})
		status, x := e.hook(c.key, map[string]any{}, hookSecret)
		if status != 202 {
			t.Fatalf("%s: webhook %d", c.key, status)
		}
		e.waitInbox(user, i+1)
		e.waitExecution(x, "waiting")
		xml, err := e.sim.ClickCard(e.demo.CorpID, user, "pick_"+c.key, "submit", c.pick...)
		if err != nil {
			t.Fatal(err)
		}
		if status, body, err := e.caller.Post(context.Background(), xml); err != nil || status != 200 {
			t.Fatalf("%s: click %d %q %v", c.key, status, body, err)
		}
		done := e.waitExecution(x, "resolved")
		resp := jobOf(done, "ask")["result"].(map[string]any)["response"].(map[string]any)
		if got := toString(resp["selected"]); got != c.want || !strings.Contains(toString(resp["selectedItems"]), "SelectedItem") {
			t.Fatalf("%s: response %v, want selected %s", c.key, resp, c.want)
		}
		if jobOf(done, "picked")["result"].(map[string]any)["value"] != true {
			t.Fatalf("%s: the condition on selected did not hold: %v", c.key, done["jobs"])
		}
		msgs := e.must(200, "GET", "/api/v1/messages?executionId="+x, nil).JSON()["data"].([]any)
		m := e.message(msgs[0].(map[string]any)["id"].(string))
		if rs, _ := m["responses"].([]any); len(rs) != 1 || toString(rs[0].(map[string]any)["selected"]) != c.want {
			t.Fatalf("%s: message responses %v", c.key, m["responses"])
		}
		mustContain(t, c.key+" message page", w.page(200, "/ui/messages/"+m["id"].(string), "en"), c.shown)
	}
}
