// Package server is the composition root: it wires the store, the services and the plugins into
// the gin router, and holds the REST handlers (one file per resource), the middleware and the
// single place that turns errors into the API's JSON error shape.
package server
