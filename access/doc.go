// Package access says who a request acts as and what it may do: the four roles of SPEC §8.1, the
// one table that maps every route of the API and the pages to the right it needs, and the
// principal a request carries in its context for the services' own rules (a token's channel
// scope, "only your own tokens") and for the audit log.
package access
