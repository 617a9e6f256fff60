package web

import (
	"bytes"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/lockout"
	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
	"github.com/wecomflow/wecomflow/workflow"
)

//go:embed templates static i18n
var files embed.FS

// SessionCookie names the web UI's session cookie; the REST API accepts it too (with CSRFHeader
// on every state change), which is how the pages' scripts call it.
const SessionCookie = "wecomflow_session"

// CSRFHeader carries the session's CSRF token on API calls made with the session cookie.
const CSRFHeader = "X-CSRF-Token"

// csrfField is the CSRF token's form field.
const csrfField = "csrf"

// contentSecurityPolicy allows our own origin only and no inline script or style.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Deps are what the pages use.
type Deps struct {
	Service   *service.Service
	Messages  *message.Service
	Workflows *workflow.Engine
	// ChannelTypes are the channel types by name: a saved template offers its type's msgtypes.
	ChannelTypes map[string]plugin.ChannelType
	Log          *slog.Logger
	// PublicURL decides whether the session cookie is Secure (https).
	PublicURL string
	// PublicURLUnset: PublicURL is the laptop default, not configured; the authenticator page
	// warns that the callback URLs it shows may not reach this server.
	PublicURLUnset bool
	// DisplayZone, when set, is the time zone the pages show times in, in both languages; unset,
	// English pages use the server's (TZ) and Chinese ones Asia/Shanghai, WeCom's own.
	DisplayZone *time.Location
	// Inbox, when set (the sandbox), adds the inbox page.
	Inbox InboxSource
	// Lockout counts failed authentications by client address; the server's API shares it, so
	// failures on the pages and on the API add up.
	Lockout *lockout.Counter
}

// UI is the admin UI.
type UI struct {
	d     Deps
	pages map[string]*template.Template
	cat   catalogue
	// problems translate the service's English sentences, by language (none for English).
	problems map[string]*problemTable
	// static serves the embedded assets.
	static http.Handler
	secure bool
	// shanghai is the Chinese pages' default time zone.
	shanghai *time.Location
}

// New parses the templates and catalogues.
func New(d Deps) (*UI, error) {
	if d.Lockout == nil {
		return nil, errors.New("web: no lockout counter: the log-in page and the session check need one")
	}
	cat, err := loadCatalogue(files)
	if err != nil {
		return nil, err
	}
	problems, err := loadProblemTables(files)
	if err != nil {
		return nil, err
	}
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		// No time zone database (a scratch image without tzdata): China has no daylight saving.
		shanghai = time.FixedZone("CST", 8*3600)
	}
	u := &UI{d: d, cat: cat, problems: problems, pages: map[string]*template.Template{}, secure: strings.HasPrefix(d.PublicURL, "https://"), shanghai: shanghai}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	names, err := fs.Glob(files, "templates/pages/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	for _, name := range names {
		t, err := template.Must(layout.Clone()).ParseFS(files, name)
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		u.pages[strings.TrimSuffix(path.Base(name), ".html")] = t
	}
	sub, _ := fs.Sub(files, "static")
	u.static = http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	return u, nil
}

// Register adds the UI's routes: every page of the admin UI is listed here.
func (u *UI) Register(r *gin.Engine) {
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/ui/") })
	r.GET("/static/*file", u.serveStatic)
	r.GET("/login", u.handle(u.loginPage))
	r.POST("/login", u.handle(u.login))
	// Sign in with WeCom: public; the state and WeCom's code are the credentials.
	r.GET("/auth/wecom/:name/start", u.handle(u.startSignIn))
	r.GET("/auth/wecom/:name/callback", u.handle(u.signInCallback))

	g := r.Group("/ui", u.requireSession)
	g.POST("/logout", u.handle(u.logout))
	g.GET("/", u.handle(u.dashboard))

	g.GET("/authenticators", u.handle(u.authenticators))
	g.GET("/authenticators/new", u.handle(u.newAuthenticator))
	g.POST("/authenticators", u.handle(u.createAuthenticator))
	g.GET("/authenticators/:id", u.handle(u.editAuthenticator))
	g.POST("/authenticators/:id", u.handle(u.updateAuthenticator))
	g.POST("/authenticators/:id/check", u.handle(u.checkAuthenticator))
	g.POST("/authenticators/:id/sync", u.handle(u.syncAuthenticator))
	g.POST("/authenticators/:id/delete", u.handle(u.deleteAuthenticator))

	g.GET("/channels", u.handle(u.channels))
	g.GET("/channels/new", u.handle(u.newChannel))
	g.POST("/channels", u.handle(u.createChannel))
	g.GET("/channels/:id", u.handle(u.editChannel))
	g.POST("/channels/:id", u.handle(u.updateChannel))
	g.POST("/channels/:id/test", u.handle(u.testChannel))
	g.POST("/channels/:id/delete", u.handle(u.deleteChannel))
	g.GET("/channels/:id/chats", u.handle(u.chats))
	g.POST("/channels/:id/chats", u.handle(u.createChat))
	g.GET("/channels/:id/chats/:chatid", u.handle(u.chat))
	g.POST("/channels/:id/chats/:chatid", u.handle(u.updateChat))

	g.GET("/users", u.handle(u.users))
	g.GET("/users/new", u.handle(u.newUser))
	g.POST("/users", u.handle(u.createUser))
	g.GET("/users/import", u.handle(u.importPage))
	// The upload takes up to importLimit: the server lists this route among its upload routes.
	g.POST("/users/import", u.handle(u.importUsers))
	g.GET("/users/import/template", u.handle(ImportTemplate))
	g.GET("/users/:id", u.handle(u.editUser))
	g.POST("/users/:id", u.handle(u.updateUser))
	g.POST("/users/:id/delete", u.handle(u.deleteUser))

	g.GET("/directory", u.handle(u.directory))
	g.GET("/sync-tasks", u.handle(u.syncTasks))
	g.GET("/sync-tasks/:id", u.handle(u.syncTask))
	g.POST("/sync-tasks/:id/retry", u.handle(u.retrySyncTask))

	g.GET("/send", u.handle(u.sendForm))
	g.POST("/send", u.handle(u.send))
	g.GET("/messages", u.handle(u.messages))
	g.GET("/messages/:id", u.handle(u.message))
	g.POST("/messages/:id/retry", u.handle(u.messageAction(u.d.Messages.Retry, "msg.flash.retried")))
	g.POST("/messages/:id/cancel", u.handle(u.messageAction(u.d.Messages.Cancel, "msg.flash.canceled")))
	g.POST("/messages/:id/recall", u.handle(u.messageAction(u.d.Messages.Recall, "msg.flash.recalled")))

	g.GET("/mass-messages", u.handle(u.massMessages))
	g.GET("/mass-messages/new", u.handle(u.newMassMessage))
	g.POST("/mass-messages", u.handle(u.createMassMessage))
	g.GET("/mass-messages/:id", u.handle(u.massMessage))
	g.POST("/mass-messages/:id/refresh", u.handle(u.massMessageAction(u.d.Service.RefreshMassMessage, "mass.flash.refreshed")))
	g.POST("/mass-messages/:id/remind", u.handle(u.massMessageAction(u.d.Service.RemindMassMessage, "mass.flash.reminded")))
	g.POST("/mass-messages/:id/cancel", u.handle(u.massMessageAction(u.d.Service.CancelMassMessage, "mass.flash.canceled")))

	g.GET("/callback-events", u.handle(u.callbackEvents))
	g.GET("/callback-events/:id", u.handle(u.callbackEvent))

	g.GET("/workflows", u.handle(u.workflowList))
	g.GET("/workflows/new", u.handle(u.newWorkflow))
	g.GET("/workflows/:id", u.handle(u.editWorkflow))
	g.POST("/workflows/:id/enabled", u.handle(u.setWorkflowEnabled))
	g.POST("/workflows/:id/delete", u.handle(u.deleteWorkflow))
	g.POST("/workflows/:id/trigger", u.handle(u.triggerWorkflow))

	g.GET("/templates", u.handle(u.templateList))
	g.GET("/templates/new", u.handle(u.newTemplate))
	g.POST("/templates", u.handle(u.createTemplate))
	g.GET("/templates/:id", u.handle(u.editTemplate))
	g.POST("/templates/:id", u.handle(u.updateTemplate))
	g.POST("/templates/:id/delete", u.handle(u.deleteTemplate))

	g.GET("/recipes", u.handle(u.recipeList))
	g.GET("/recipes/:name", u.handle(u.recipe))
	g.POST("/recipes/:name", u.handle(u.installRecipe))

	g.GET("/event-hooks", u.handle(u.eventHooks))
	g.GET("/event-hooks/new", u.handle(u.newEventHook))
	g.POST("/event-hooks", u.handle(u.createEventHook))
	g.GET("/event-hooks/:id", u.handle(u.editEventHook))
	g.POST("/event-hooks/:id", u.handle(u.updateEventHook))
	g.POST("/event-hooks/:id/delete", u.handle(u.deleteEventHook))

	g.GET("/executions", u.handle(u.executions))
	g.GET("/executions/:id", u.handle(u.execution))
	g.POST("/executions/:id/cancel", u.handle(u.cancelExecution))

	g.GET("/tokens", u.handle(u.tokens))
	g.POST("/tokens", u.handle(u.createToken))
	g.POST("/tokens/:id/revoke", u.handle(u.revokeToken))

	g.GET("/accounts", u.handle(u.accounts))
	g.GET("/accounts/new", u.handle(u.newAccount))
	g.POST("/accounts", u.handle(u.createAccount))
	g.GET("/accounts/:id", u.handle(u.editAccount))
	g.POST("/accounts/:id", u.handle(u.updateAccount))
	g.POST("/accounts/:id/delete", u.handle(u.deleteAccount))

	g.GET("/audit", u.handle(u.audit))

	if u.d.Inbox != nil {
		g.GET("/inbox", u.handle(u.inbox))
		g.POST("/inbox/click", u.handle(u.inboxClick))
	}
}

func (u *UI) serveStatic(c *gin.Context) {
	u.headers(c)
	c.Header("Cache-Control", "public, max-age=3600")
	u.static.ServeHTTP(c.Writer, c.Request)
}

// headers are set on every UI response.
func (u *UI) headers(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// handle adapts a page handler: an error becomes an error page (or, for an expired session, the
// login page).
func (u *UI) handle(fn func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		u.headers(c)
		if err := fn(c); err != nil {
			u.fail(c, err)
		}
	}
}

// Fail shows err as a page (for the server's own checks on UI routes, like the body limit).
func (u *UI) Fail(c *gin.Context, err error) {
	u.headers(c)
	u.fail(c, err)
}

// fail shows err as a page.
func (u *UI) fail(c *gin.Context, err error) {
	var se *problem.Error
	if !errors.As(err, &se) {
		u.d.Log.ErrorContext(c.Request.Context(), "page failed", "path", c.Request.URL.Path, "err", err)
		se = &problem.Error{Code: problem.CodeInternal, Message: "Something went wrong on the server; the log has the details."}
	} else if se.Code == problem.CodeInternal {
		u.d.Log.ErrorContext(c.Request.Context(), "page failed", "path", c.Request.URL.Path, "err", err)
	}
	problems := u.problems[u.language(c)]
	msg := problems.translate(se.Message)
	if se.Code == problem.CodeRateLimited {
		msg = u.rateLimited(c, se)
	}
	u.render(c, se.Code.Status(), "error", map[string]any{"Code": string(se.Code), "Message": msg, "Fields": problems.fields(se.Fields)})
}

// rateLimited sets the Retry-After header of a refusal and says it in the page's language.
func (u *UI) rateLimited(c *gin.Context, se *problem.Error) string {
	c.Header("Retry-After", strconv.Itoa(se.RetrySeconds()))
	return u.cat.text(u.language(c), "auth.rateLimited", se.RetrySeconds())
}

// NotFound answers a /ui/ path that no page has: the error page in the page's language (the API's
// paths keep their JSON answer). A live session shows its nav; an ended one is not counted as a
// failure here, the next real page does that.
func (u *UI) NotFound(c *gin.Context) {
	u.headers(c)
	if cookie, _ := c.Cookie(SessionCookie); cookie != "" {
		if sess, err := u.d.Service.SessionFor(c.Request.Context(), cookie); err == nil {
			c.Set("session", sess)
		}
	}
	u.fail(c, problem.Errorf(problem.CodeNotFound, "%s", u.cat.text(u.language(c), "error.notFound")))
}

// requireSession admits a request with a live session whose role may use the page: other
// requests go to the login page (inside WeCom, to the sign-in with login.autoLogin when there is
// one), and state changes must carry the session's CSRF token. An address shut out for failed
// authentications gets the refusal instead, whatever its cookie.
func (u *UI) requireSession(c *gin.Context) {
	cookie, _ := c.Cookie(SessionCookie)
	sess, err := lockout.Attempt(c.Request.Context(), u.d.Lockout, c.ClientIP(), cookie, u.d.Service.SessionFor)
	if err != nil {
		u.headers(c)
		var se *problem.Error
		errors.As(err, &se)
		if c.Request.Method == http.MethodGet && (se == nil || se.Code != problem.CodeRateLimited) {
			if cookie != "" && se != nil && se.Code == problem.CodeUnauthorized {
				// The session has ended: the browser forgets its cookie, so the next pages do not
				// present it again, each one a failure.
				u.clearSession(c)
			}
			target := u.autoLoginStart(c)
			if target == "" {
				target = "/login?next=" + url.QueryEscape(c.Request.URL.RequestURI())
			}
			c.Redirect(http.StatusSeeOther, target)
			c.Abort()
			return
		}
		u.fail(c, err)
		c.Abort()
		return
	}
	// The pages below, error pages included, show the viewer's nav and name.
	c.Set("session", sess)
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
		sent := c.PostForm(csrfField)
		if sent == "" {
			sent = c.GetHeader(CSRFHeader)
		}
		if subtle.ConstantTimeCompare([]byte(sent), []byte(sess.CSRF)) != 1 {
			u.headers(c)
			u.fail(c, problem.Errorf(problem.CodeForbidden, "The form is out of date (its CSRF token does not match); reload the page and try again."))
			c.Abort()
			return
		}
	}
	// The one table of who may do what (access.Check) decides, as on the API.
	if err := access.Check(sess.Principal, c.Request.Method, c.FullPath()); err != nil {
		u.headers(c)
		u.fail(c, u.forbidden(c, sess.Principal, err))
		c.Abort()
		return
	}
	c.Request = c.Request.WithContext(access.With(c.Request.Context(), sess.Principal))
	c.Next()
}

// forbidden says in the page's language who may use the route that refused p (access.Check's
// err says it in English, for the API).
func (u *UI) forbidden(c *gin.Context, p access.Principal, err error) error {
	need, ok := access.RouteRight(c.Request.Method, c.FullPath())
	if !ok || need == access.Read {
		return err
	}
	lang := u.language(c)
	msg := u.cat.text(lang, "access.refused", u.cat.text(lang, "access.need."+need.String()), u.cat.text(lang, "role."+string(p.Role)))
	return &problem.Error{Code: problem.CodeForbidden, Message: msg, Err: err}
}

// CheckCSRF reports whether a request made with the session cookie carries its CSRF token: the
// REST API's check for cookie-authenticated state changes.
func CheckCSRF(r *http.Request, sess service.Session) bool {
	return subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(sess.CSRF)) == 1
}

// view is what every page template gets.
type view struct {
	Lang  string
	Path  string
	CSRF  string
	Title string
	// Data is the page's own data.
	Data any
	// Errors are field errors by path ("options.corpId"), shown next to the fields.
	Errors problem.Fields
	// Form holds submitted values to show again after a failed save.
	Form map[string]string
	// Picked holds every value of a submitted field that has several (a <select multiple>).
	Picked url.Values
	Flash  string
	Inbox  bool
	// Zone is the time zone the page shows times in.
	Zone *time.Location
	// Who is the signed-in principal (zero on the log-in page).
	Who access.Principal
	u   *UI
}

// navEntry is a link of the header's nav.
type navEntry struct {
	Path, Key string
	Current   bool
}

// nav is the entry of a page whose route is its path; key names it in the catalogue.
func nav(path, key string) navEntry { return navEntry{Path: path, Key: key} }

// Nav is the header's links: the pages the viewer's role may open, the current one marked.
func (v *view) Nav() []navEntry {
	entries := []navEntry{nav("/ui/authenticators", "nav.authenticators"), nav("/ui/channels", "nav.channels"),
		nav("/ui/users", "nav.users"), nav("/ui/directory", "nav.directory"), nav("/ui/workflows", "nav.workflows"), nav("/ui/templates", "nav.templates"),
		nav("/ui/recipes", "nav.recipes"), nav("/ui/executions", "nav.executions"), nav("/ui/send", "nav.send"), nav("/ui/messages", "nav.messages"),
		nav("/ui/mass-messages", "nav.massMessages"), nav("/ui/callback-events", "nav.events"), nav("/ui/event-hooks", "nav.eventHooks"),
		nav("/ui/sync-tasks", "nav.syncTasks")}
	if v.Inbox {
		entries = append(entries, nav("/ui/inbox", "nav.inbox"))
	}
	entries = append(entries, nav("/ui/tokens", "nav.tokens"), nav("/ui/accounts", "nav.accounts"), nav("/ui/audit", "nav.audit"))
	out := entries[:0]
	for _, e := range entries {
		if v.Can(http.MethodGet, e.Path) {
			e.Current = section(v.Path) == section(e.Path)
			out = append(out, e)
		}
	}
	return out
}

// section is the first segment of a /ui/ path: the nav entry to mark current.
func section(p string) string {
	s, _, _ := strings.Cut(strings.TrimPrefix(p, "/ui/"), "/")
	return s
}

// Can reports whether the viewer may use a route (method and pattern, as web.Register and the
// API register them: "GET" "/ui/accounts", "POST" "/ui/channels/:id/delete"): the nav and the
// buttons show only what the viewer's role may use.
func (v *view) Can(method, route string) bool {
	return v.Who.Role != "" && access.Allowed(v.Who, method, route)
}

// Time shows a time (a time.Time or a *time.Time, nil: "") in the page's time zone, to the second.
func (v *view) Time(t any) string {
	switch t := t.(type) {
	case time.Time:
		return t.In(v.Zone).Format(time.DateTime)
	case *time.Time:
		if t != nil {
			return t.In(v.Zone).Format(time.DateTime)
		}
	}
	return ""
}

// ZoneName names the page's time zone for the note under its times: "Asia/Shanghai (UTC+08:00)".
func (v *view) ZoneName() string {
	offset := time.Now().In(v.Zone).Format("-07:00")
	switch name := v.Zone.String(); name {
	case "UTC":
		return name
	case "Local":
		return "UTC" + offset
	default:
		return name + " (UTC" + offset + ")"
	}
}

// zone is the time zone of pages in lang: the configured one, else the server's for English and
// Asia/Shanghai for Chinese (whose readers are on WeCom's, China's, time).
func (u *UI) zone(lang string) *time.Location {
	switch {
	case u.d.DisplayZone != nil:
		return u.d.DisplayZone
	case lang == "zh-CN":
		return u.shanghai
	default:
		return time.Local
	}
}

// T translates a catalogue key in the page's language, formatting args into it.
func (v *view) T(key string, args ...any) string { return v.u.cat.text(v.Lang, key, args...) }

// Reason is a sentence the service stored (a failed message's reason, a job's error, a sync
// task's summary) in the page's language, with WeCom's own words set as code.
func (v *view) Reason(msg string) template.HTML { return v.u.problems[v.Lang].reasonHTML(msg) }

// Err is the error of a field, or "".
func (v *view) Err(field string) string { return v.Errors[field] }

// FieldErrors are the field errors as a plain map, for a page's script: html/template would
// write problem.Fields, an error, as its message.
func (v *view) FieldErrors() map[string]string { return v.Errors }

// Filtered reports whether a list is shown through a search or filter (any query value but the
// page and the language): its empty state then says nothing matches, not that nothing exists.
func (v *view) Filtered() bool {
	for k, val := range v.Form {
		if val != "" && k != "page" && k != "lang" {
			return true
		}
	}
	return false
}

// IsPicked reports whether value was among the submitted values of a field with several.
func (v *view) IsPicked(field, value string) bool { return slices.Contains(v.Picked[field], value) }

// Value is the submitted value of a form field, or def when the form was not submitted.
func (v *view) Value(field string, def any) string {
	if s, ok := v.Form[field]; ok {
		return s
	}
	if def == nil {
		return ""
	}
	return fmt.Sprint(def)
}

// render writes a page in the request's language.
func (u *UI) render(c *gin.Context, status int, page string, data any) {
	u.renderView(c, status, page, &view{Data: data})
}

func (u *UI) renderView(c *gin.Context, status int, page string, v *view) {
	t, ok := u.pages[page]
	if !ok {
		c.String(http.StatusInternalServerError, "no page "+page)
		return
	}
	v.u, v.Lang, v.Path, v.Inbox = u, u.language(c), c.Request.URL.Path, u.d.Inbox != nil
	v.Zone = u.zone(v.Lang)
	v.Errors = u.problems[v.Lang].fields(v.Errors)
	sess := session(c)
	v.CSRF, v.Who = sess.CSRF, sess.Principal
	if v.Flash == "" {
		v.Flash = u.takeFlash(c)
	}
	// Drawn whole before anything is sent: a template that fails midway answers 500 with the error
	// page, not a 200 with half a page.
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer pageBuffers.Put(buf)
	buf.Reset()
	if err := t.ExecuteTemplate(buf, "layout", v); err != nil {
		if page == "error" {
			u.d.Log.ErrorContext(c.Request.Context(), "template failed", "page", page, "err", err)
			c.String(http.StatusInternalServerError, "Something went wrong on the server; the log has the details.")
			return
		}
		u.fail(c, fmt.Errorf("page %s: %w", page, err))
		return
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(status)
	_, _ = c.Writer.Write(buf.Bytes())
}

// pageBuffers hold pages while they are drawn.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// session is the request's session: zero on the log-in page and the other public ones.
func session(c *gin.Context) service.Session {
	s, _ := c.Get("session")
	sess, _ := s.(service.Session)
	return sess
}

// flashCookie carries a one-line notice across a redirect ("Saved.").
const flashCookie = "wecomflow_flash"

// redirect goes to target after a successful change, with a notice (a catalogue key).
func (u *UI) redirect(c *gin.Context, target, flashKey string) error {
	if flashKey != "" {
		http.SetCookie(c.Writer, &http.Cookie{Name: flashCookie, Value: flashKey, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.secure})
	}
	c.Redirect(http.StatusSeeOther, target)
	return nil
}

func (u *UI) takeFlash(c *gin.Context) string {
	key, err := c.Cookie(flashCookie)
	if err != nil || key == "" {
		return ""
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.secure})
	return u.cat.text(u.language(c), key)
}

// formError re-renders a form page with the service's field errors; other errors propagate.
func (u *UI) formError(c *gin.Context, page string, err error, data any) error {
	var se *problem.Error
	if !errors.As(err, &se) || (se.Code != problem.CodeValidation && se.Code != problem.CodeConflict) {
		return err
	}
	form := postedForm(c.Request.PostForm)
	fields := se.Fields
	if fields == nil {
		fields = problem.Fields{"": se.Message}
	}
	// The fields carry the details; the banner says so in the page's language.
	u.renderView(c, se.Code.Status(), page, &view{Data: data, Errors: fields, Form: form, Picked: c.Request.PostForm, Flash: u.cat.text(u.language(c), "form.invalid")})
	return nil
}

// formatValue prints a value decoded from JSON: numbers in full (JSON numbers decode as float64,
// which fmt prints as 1.000002e+06), anything else as fmt does.
func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// idParam reads the :id of the path.
func idParam(c *gin.Context) (uint64, error) { return problem.ParseID(c.Param("id")) }

var funcs = template.FuncMap{
	// add is for page numbers.
	"add": func(a, b int) int { return a + b },
	// pages is the number of pages of a list.
	"pages": func(total int64, size int) int {
		if size <= 0 {
			return 1
		}
		return int((total + int64(size) - 1) / int64(size))
	},
	// value shows a value decoded from JSON, where every number is a float64: 1000002, not 1.000002e+06.
	"value": formatValue,
	// hasPrefix tells an execution's event from a message's by its type.
	"hasPrefix": strings.HasPrefix,
	// json shows a value as indented JSON (a job result, a payload).
	"json": toJSON,
	// dict builds the argument map of a partial: dict "V" $ "Name" "title".
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	// truncate keeps the first n characters of s, marking a cut with "…" (a long User-Agent).
	"truncate": func(n int, s string) string {
		if r := []rune(s); len(r) > n {
			return string(r[:n]) + "…"
		}
		return s
	},
	// fieldID turns a field path into an element id: options.corpId → f-options-corpId.
	"fieldID": func(name string) string {
		return "f-" + strings.NewReplacer(".", "-", "[", "-", "]", "").Replace(name)
	},
}
