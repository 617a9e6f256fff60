// Package server is the composition root: New builds every part once — the WeCom clients and
// apps, the services, the sender, the directory syncer, the workflow engine, the callback handler
// with its subscribers, the pages and the failed-authentication counter they share with the API —
// and RunWorkers runs the background loops. It holds the REST handlers (one file per resource,
// every route listed in routes), the middleware and the single place that turns errors into the
// API's JSON error shape.
package server
