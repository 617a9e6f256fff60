package access

import (
	"context"
	"slices"
	"time"

	"github.com/wecomflow/wecomflow/problem"
)

// Role is what an account or a token may do.
type Role string

// The four roles, from most to least able.
const (
	Admin    Role = "admin"
	Designer Role = "designer"
	Operator Role = "operator"
	Viewer   Role = "viewer"
)

// Roles lists every role, most able first.
func Roles() []Role { return []Role{Admin, Designer, Operator, Viewer} }

// Valid reports whether r names one of the four roles.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// Right is what an operation needs (SPEC §8.1's rows).
type Right int

const (
	// Read: lists, details, logs, the directory, executions — never secrets. Every role.
	Read Right = iota
	// Send: send and test, retry / cancel / recall messages, trigger workflows, cancel executions.
	Send
	// People: users, imports, directory syncs, group chats, mass messages.
	People
	// Design: workflows, templates, event hooks.
	Design
	// Administer: authenticators, channels, accounts, other accounts' tokens, the audit log.
	Administer
)

// String names a right in a refusal.
func (r Right) String() string {
	return [...]string{"read", "send", "people", "design", "administer"}[r]
}

// May reports whether role r has right need.
func (r Role) May(need Right) bool {
	switch need {
	case Read:
		return r.Valid()
	case Send:
		return r == Admin || r == Designer || r == Operator
	case People:
		return r == Admin || r == Operator
	case Design:
		return r == Admin || r == Designer
	default:
		return r == Admin
	}
}

// Within reports whether every right of r is also one of other's: whether an account of role
// other may hand r out (to a token).
func (r Role) Within(other Role) bool {
	for _, need := range []Right{Read, Send, People, Design, Administer} {
		if r.May(need) && !other.May(need) {
			return false
		}
	}
	return true
}

// Least is the role with the rights both a and b have: a token never does more than the account
// it belongs to, even after the account is demoted. Where neither holds the other (designer and
// operator), the common ground is viewer.
func Least(a, b Role) Role {
	switch {
	case a.Within(b):
		return a
	case b.Within(a):
		return b
	default:
		return Viewer
	}
}

// Actor kinds, as the audit log names them.
const (
	KindAccount = "account"
	KindToken   = "token"
	KindSystem  = "system"
)

// Principal is who a request acts as.
type Principal struct {
	// Kind is KindAccount (a session opened by signing in with WeCom), KindToken (an API token,
	// or a session opened with one) or KindSystem (the server's own work).
	Kind string
	// ID is the account's or the token's id; Name its name.
	ID   uint64
	Name string
	Role Role
	// AccountID is the account acting, or owning the token; 0 for the bootstrap token.
	AccountID uint64
	// TokenID is the token presented, or the one a session was opened with.
	TokenID uint64
	// Channels, when not empty, are the only channels the principal may send on or test.
	Channels []string
	// Expires is when the token the principal acts with expires (nil: it does not); tokens it
	// makes live no longer.
	Expires *time.Time
}

// System is the server acting on its own (a workflow's send, a scheduled sync, the sandbox's seed).
func System() Principal { return Principal{Kind: KindSystem, Name: "system", Role: Admin} }

// MayUseChannel reports whether the principal's channel scope lets it send on name.
func (p Principal) MayUseChannel(name string) bool {
	return len(p.Channels) == 0 || slices.Contains(p.Channels, name)
}

// ChannelAllowed refuses a channel outside the caller's channel scope (a token made for some
// channels only): 403 naming it.
func ChannelAllowed(ctx context.Context, name string) error {
	if !From(ctx).MayUseChannel(name) {
		return problem.Errorf(problem.CodeForbidden, "This token may not use channel %q: its channel scope does not include it.", name)
	}
	return nil
}

// Client is where a request comes from, for the audit log.
type Client struct{ IP, UserAgent string }

type clientKey struct{}

// WithClient returns ctx carrying the request's client: the server sets it on every request, so
// an audit entry knows where its change came from, signed in or not.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientOf is the client ctx carries (zero for the server's own work).
func ClientOf(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

type principalKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// From is the principal ctx carries. Every request that reaches a service past the route check
// carries one. A request that carries none (a public route: a webhook trigger, a sign-in) acts as
// an anonymous principal with no role, so no rule mistakes it for an admin; work the server
// started itself, outside any request, is System.
func From(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p
	}
	if _, inRequest := ctx.Value(clientKey{}).(Client); inRequest {
		return Principal{Kind: KindSystem, Name: "anonymous"}
	}
	return System()
}
