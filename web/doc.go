// Package web is wecomflow's admin UI: server-rendered pages (html/template) with a little of our
// own JavaScript and CSS, embedded in the binary — no build step, nothing loaded from another
// origin. Log-in exchanges an API token for a session cookie; every state change carries the
// session's CSRF token; the Content-Security-Policy forbids inline scripts.
//
// Handlers call the same functions as the REST API (service.Service, message.Service,
// workflow.Engine), and every page route is listed in Register. The browser-side scripts of the
// interactive pages (the workflow editor's preview, live sync progress) call the REST API with
// the session cookie and the CSRF header.
//
// The session check admits a request only to the routes the viewer's role may use (access.Check,
// the one route table); the nav and the buttons ask the same table (view.Can), so a page offers
// only what its viewer may do.
//
// Every visible string comes from the catalogues in i18n/<lang>/*.json (en and zh-CN); a test
// fails when a key is missing from either.
package web
