package access

import (
	"strings"

	"github.com/wecomflow/wecomflow/problem"
)

// RouteRight is the right a route of the API or the pages needs, by method and gin route
// pattern: the one table of who may do what. A route missing from it is refused to everybody
// (ok false), so a new route is closed until somebody decides; a test checks that every route
// the server registers is here.
func RouteRight(method, route string) (need Right, ok bool) {
	switch method + " " + route {
	// Reading, and what only concerns the caller: every role.
	case "GET /api/v1/openapi.json", "GET /api/v1/accounts/me",
		"GET /api/v1/authenticators", "GET /api/v1/authenticators/:id",
		"GET /api/v1/channels", "GET /api/v1/channels/:id",
		"GET /api/v1/channels/:id/chats", "GET /api/v1/channels/:id/chats/:chatid",
		"GET /api/v1/users", "GET /api/v1/users/:id", "GET /api/v1/users/import/template",
		"GET /api/v1/messages", "GET /api/v1/messages/:id", "POST /api/v1/render",
		"GET /api/v1/callback-events", "GET /api/v1/callback-events/:id",
		"GET /api/v1/sync-tasks", "GET /api/v1/sync-tasks/:id",
		"GET /api/v1/directory/departments", "GET /api/v1/directory/members", "GET /api/v1/directory/tags",
		"GET /api/v1/workflows", "GET /api/v1/workflows/:id",
		"GET /api/v1/templates", "GET /api/v1/templates/:id", "GET /api/v1/recipes",
		"GET /api/v1/mass-messages", "GET /api/v1/mass-messages/:id",
		"GET /api/v1/executions", "GET /api/v1/executions/:id",
		"GET /api/v1/event-hooks", "GET /api/v1/event-hooks/:id", "GET /api/v1/event-hooks/:id/deliveries",
		// Tokens: everybody has their own; the service keeps others' out of reach.
		"GET /api/v1/tokens", "POST /api/v1/tokens", "DELETE /api/v1/tokens/:id",
		"GET /ui/", "POST /ui/logout", "GET /ui/tokens", "POST /ui/tokens", "POST /ui/tokens/:id/revoke",
		"GET /ui/authenticators", "GET /ui/authenticators/:id",
		"GET /ui/channels", "GET /ui/channels/:id",
		"GET /ui/channels/:id/chats", "GET /ui/channels/:id/chats/:chatid",
		"GET /ui/mass-messages", "GET /ui/mass-messages/:id",
		"GET /ui/users", "GET /ui/users/:id", "GET /ui/users/import/template",
		"GET /ui/directory", "GET /ui/sync-tasks", "GET /ui/sync-tasks/:id",
		"GET /ui/messages", "GET /ui/messages/:id",
		"GET /ui/callback-events", "GET /ui/callback-events/:id",
		"GET /ui/workflows", "GET /ui/workflows/:id", "GET /ui/templates", "GET /ui/templates/:id",
		"GET /ui/recipes", "GET /ui/recipes/:name", "GET /ui/event-hooks", "GET /ui/event-hooks/:id",
		"GET /ui/executions", "GET /ui/executions/:id",
		"GET /ui/inbox", "GET /sandbox/inbox":
		return Read, true

	case "POST /api/v1/messages", "POST /api/v1/messages/:id/retry", "POST /api/v1/messages/:id/cancel",
		"POST /api/v1/messages/:id/recall", "POST /api/v1/media", "POST /api/v1/channels/:id/test",
		// A chat is an audience to send to: making or changing one is part of sending.
		"POST /api/v1/channels/:id/chats", "PATCH /api/v1/channels/:id/chats/:chatid",
		"POST /api/v1/workflows/:id/trigger", "POST /api/v1/executions/:id/cancel",
		"POST /ui/messages/:id/retry", "POST /ui/messages/:id/cancel", "POST /ui/messages/:id/recall",
		"POST /ui/channels/:id/test", "POST /ui/channels/:id/chats", "POST /ui/channels/:id/chats/:chatid",
		"POST /ui/workflows/:id/trigger", "POST /ui/executions/:id/cancel",
		// The Send page is a form to send: even showing it needs the right.
		"GET /ui/send", "POST /ui/send",
		// The sandbox's simulated member clicking a card button.
		"POST /ui/inbox/click", "POST /sandbox/click":
		return Send, true

	case "POST /api/v1/users", "PATCH /api/v1/users/:id", "DELETE /api/v1/users/:id",
		"POST /api/v1/users/bulk", "POST /api/v1/users/import",
		"POST /api/v1/authenticators/:id/sync", "POST /api/v1/sync-tasks/:id/retry",
		// Customer mass messages are People, not Send (SPEC §8.1): they reach customers.
		"POST /api/v1/mass-messages", "POST /api/v1/mass-messages/:id/refresh",
		"POST /api/v1/mass-messages/:id/remind", "POST /api/v1/mass-messages/:id/cancel",
		"GET /ui/users/new", "POST /ui/users", "POST /ui/users/:id", "POST /ui/users/:id/delete",
		"GET /ui/users/import", "POST /ui/users/import",
		"POST /ui/authenticators/:id/sync", "POST /ui/sync-tasks/:id/retry",
		"GET /ui/mass-messages/new", "POST /ui/mass-messages", "POST /ui/mass-messages/:id/refresh",
		"POST /ui/mass-messages/:id/remind", "POST /ui/mass-messages/:id/cancel":
		return People, true

	case "POST /api/v1/workflows", "PATCH /api/v1/workflows/:id", "DELETE /api/v1/workflows/:id",
		"POST /api/v1/templates", "PATCH /api/v1/templates/:id", "DELETE /api/v1/templates/:id",
		"POST /api/v1/event-hooks", "PATCH /api/v1/event-hooks/:id", "DELETE /api/v1/event-hooks/:id",
		"POST /api/v1/recipes/:name/install",
		"GET /ui/workflows/new", "POST /ui/workflows/:id/enabled", "POST /ui/workflows/:id/delete",
		"GET /ui/templates/new", "POST /ui/templates", "POST /ui/templates/:id", "POST /ui/templates/:id/delete",
		"POST /ui/recipes/:name", "GET /ui/event-hooks/new", "POST /ui/event-hooks", "POST /ui/event-hooks/:id",
		"POST /ui/event-hooks/:id/delete":
		return Design, true

	case "POST /api/v1/authenticators", "PATCH /api/v1/authenticators/:id", "DELETE /api/v1/authenticators/:id",
		"POST /api/v1/authenticators/:id/check",
		"POST /api/v1/channels", "PATCH /api/v1/channels/:id", "DELETE /api/v1/channels/:id",
		"GET /api/v1/accounts", "POST /api/v1/accounts", "GET /api/v1/accounts/:id",
		"PATCH /api/v1/accounts/:id", "DELETE /api/v1/accounts/:id", "GET /api/v1/audit",
		"GET /ui/authenticators/new", "POST /ui/authenticators", "POST /ui/authenticators/:id",
		"POST /ui/authenticators/:id/check", "POST /ui/authenticators/:id/delete",
		"GET /ui/channels/new", "POST /ui/channels", "POST /ui/channels/:id", "POST /ui/channels/:id/delete",
		"GET /ui/accounts", "GET /ui/accounts/new", "POST /ui/accounts", "GET /ui/accounts/:id",
		"POST /ui/accounts/:id", "POST /ui/accounts/:id/delete", "GET /ui/audit":
		return Administer, true
	}
	return 0, false
}

// Check admits principal p to a route (method and gin pattern) or refuses it: 403 naming the
// roles the route needs. The API and the pages both call it, after they know who p is.
func Check(p Principal, method, route string) error {
	need, ok := RouteRight(method, route)
	if !ok {
		return problem.Errorf(problem.CodeForbidden, "%s %s is open to no role.", method, route)
	}
	if !p.Role.May(need) {
		return problem.Errorf(problem.CodeForbidden, "%s %s needs the %s role; you act as %s.", method, route, rolesFor(need), p.Role)
	}
	return nil
}

// Allowed reports whether p may use a route: what the pages ask before they link to one.
func Allowed(p Principal, method, route string) bool { return Check(p, method, route) == nil }

// rolesFor names the roles that have a right: "admin", "admin or designer" …
func rolesFor(need Right) string {
	var names []string
	for _, r := range Roles() {
		if r.May(need) {
			names = append(names, string(r))
		}
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
