package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// pageBudget is what one page may transfer: its HTML, scripts and styles (issue 17).
const pageBudget = 150 << 10

// linkedFrom names, for each page of an object (a route with a parameter), the route of a page
// that links to the object the walk created: the page visit follows that page's first link.
var linkedFrom = map[string]string{
	"/ui/authenticators/:id":         "/ui/authenticators",
	"/ui/channels/:id":               "/ui/channels",
	"/ui/channels/:id/chats":         "/ui/channels/:id",
	"/ui/users/:id":                  "/ui/users",
	"/ui/sync-tasks/:id":             "/ui/sync-tasks",
	"/ui/messages/:id":               "/ui/messages",
	"/ui/workflows/:id":              "/ui/workflows",
	"/ui/templates/:id":              "/ui/templates",
	"/ui/recipes/:name":              "/ui/recipes",
	"/ui/executions/:id":             "/ui/executions",
	"/ui/channels/:id/chats/:chatid": "/ui/channels/:id/chats",
	"/ui/mass-messages/:id":          "/ui/mass-messages",
	"/ui/callback-events/:id":        "/ui/callback-events",
	"/ui/event-hooks/:id":            "/ui/event-hooks",
	"/ui/accounts/:id":               "/ui/accounts",
}

// notVisited are the GET /ui/ routes the page visits leave out, and why.
var notVisited = map[string]string{
	"/ui/users/import/template": "a spreadsheet download, not a page",
}

// inLatin are the words an English-free Chinese page may still show in Latin letters: product
// names and protocol terms.
var inLatin = []string{"WeCom", "wecomflow", "Webhook", "webhook", "Bearer", "HMAC", "JSON", "API", "Token",
	"EncodingAESKey", "AgentId", "Secret", "CorpID", "Corp ID", "xlsx", "Excel"}

// uiPages are the routes of the UI's pages, from the one route table (web.Register): every GET
// /ui/ route but those in notVisited. A route with a parameter that neither table names fails
// the test, so a new page is visited or left out on purpose.
func (b *browserWalk) uiPages(t *testing.T) []string {
	t.Helper()
	var pages []string
	b.fixedPages = nil
	for _, r := range b.srv.engine.Routes() {
		if r.Method != "GET" || !strings.HasPrefix(r.Path, "/ui/") {
			continue
		}
		if why, ok := notVisited[r.Path]; ok {
			t.Logf("not visited: %s (%s)", r.Path, why)
			continue
		}
		if _, ok := linkedFrom[r.Path]; strings.Contains(r.Path, ":") && !ok {
			t.Errorf("%s: name the page that links to one (linkedFrom) or why it is not visited (notVisited)", r.Path)
			continue
		}
		pages = append(pages, r.Path)
		if !strings.Contains(r.Path, ":") {
			b.fixedPages = append(b.fixedPages, r.Path)
		}
	}
	sort.Strings(pages)
	return pages
}

// resolve is the path of a route: a route with a parameter becomes the first link to such a
// page on the page linkedFrom names (itself resolved the same way).
func (b *browserWalk) resolve(route string) string {
	b.t.Helper()
	if !strings.Contains(route, ":") {
		return route
	}
	from := b.resolve(linkedFrom[route])
	pattern := "^" + regexp.MustCompile(`:[a-z]+`).ReplaceAllString(regexp.QuoteMeta(route), `[^/]+`) + "$"
	b.open(from, "#main")
	links := eval[[]string](b, `[...document.querySelectorAll("#main a[href]")].map(a => a.getAttribute("href"))`)
	re := regexp.MustCompile(pattern)
	for _, l := range links {
		// A fixed page that fits the pattern (…/new, …/import) is not an object's page.
		if re.MatchString(l) && !slices.Contains(b.fixedPages, l) {
			return l
		}
	}
	b.t.Fatalf("%s links to no %s page: the walk was to create one", from, route)
	return ""
}

// visitPage opens a page of the UI as a first visit (nothing cached) and checks it: its weight,
// no sideways scroll at 390 px, labelled form controls and a visible focus ring, and in zh-CN no
// English sentence; it is saved at 390 and 1280
// px. The step's report fails it on console errors, CSP violations and requests elsewhere.
func (b *browserWalk) visitPage(route string) {
	b.t.Helper()
	path := b.resolve(route)
	if _, err := chromedp.Call(b.ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		b.t.Fatalf("disabling the cache: %v", err)
	}
	b.mu.Lock()
	b.loads = map[network.RequestID]*pageLoad{}
	b.mu.Unlock()
	b.open(path, "#main")
	b.mu.Lock()
	status := b.docStatus
	b.mu.Unlock()
	if status != http.StatusOK {
		b.t.Errorf("%s answered %d", path, status)
	}
	b.weigh(path)

	name := "page-" + strings.NewReplacer("/", "-", ":", "").Replace(strings.Trim(strings.TrimPrefix(route, "/ui/"), "/"))
	if name == "page-" {
		name = "page-dashboard"
	}
	b.checkWidths(name)
	b.screenshot(name)
	b.checkAccessible(name)
	if b.lang == "zh-CN" {
		b.expectNoEnglish()
	}
}

// pageLoad is one resource of a page's load that counts to its weight.
type pageLoad struct {
	url      string
	bytes    int64
	finished bool
}

// noteLoad is record's part for the weights: the HTML, scripts and styles of the page being
// weighed (b.loads is nil between visits), with the bytes that came over the wire.
func (b *browserWalk) noteLoad(ev any) {
	if b.loads == nil {
		return
	}
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		switch ev.Type {
		case network.ResourceTypeDocument, network.ResourceTypeScript, network.ResourceTypeStylesheet:
			b.loads[ev.RequestID] = &pageLoad{url: ev.Request.URL}
		}
	case *network.EventLoadingFinished:
		if l := b.loads[ev.RequestID]; l != nil {
			l.bytes, l.finished = int64(ev.EncodedDataLength), true
		}
	}
}

// weigh waits for the page's resources to have arrived (their events come after the load) and
// fails the page over pageBudget, naming its heaviest resources.
func (b *browserWalk) weigh(path string) {
	b.t.Helper()
	var loads []pageLoad
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b.mu.Lock()
		loads = loads[:0]
		done := true
		for _, l := range b.loads {
			loads = append(loads, *l)
			done = done && l.finished
		}
		if done || time.Now().After(deadline) {
			b.loads = nil
			b.mu.Unlock()
			if !done {
				b.t.Errorf("%s: some resources did not finish loading in 5 s", path)
			}
			break
		}
		b.mu.Unlock()
	}
	sort.Slice(loads, func(i, j int) bool { return loads[i].bytes > loads[j].bytes })
	var total int64
	heaviest := make([]string, 0, len(loads))
	for _, l := range loads {
		total += l.bytes
		heaviest = append(heaviest, fmt.Sprintf("%s %.1f KB", strings.TrimPrefix(l.url, b.base), float64(l.bytes)/1024))
	}
	b.t.Logf("page weight %s: %.1f KB (%s)", path, float64(total)/1024, strings.Join(heaviest, ", "))
	if total > pageBudget {
		b.t.Errorf("%s transfers %.1f KB, over the %d KB budget: %s", path, float64(total)/1024, pageBudget>>10, strings.Join(heaviest[:min(3, len(heaviest))], ", "))
	}
}

// expectNoEnglish fails a Chinese page that shows three English words in a row in its visible
// text, leaving out code, inputs, data shown in full in a title (a user agent), URLs, paths, ids
// (anything with a digit, _, $, {, = or an inner dot) and the words of inLatin.
func (b *browserWalk) expectNoEnglish() {
	b.t.Helper()
	words, _ := json.Marshal(inLatin)
	found := eval[[]string](b, fmt.Sprintf(`(() => {
		const latin = new RegExp("\\b(?:" + %s.join("|") + ")\\b", "g");
		const found = [];
		const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let n = walk.nextNode(); n; n = walk.nextNode()) {
			const el = n.parentElement;
			if (el.closest("code, pre, script, style, textarea, select, kbd, samp, [title]") || !el.checkVisibility()) continue;
			const text = n.data
				.replace(/(?:[a-z]+:\/\/|\/)\S*/gi, " ")
				.replace(/\S*(?:[\d_$@{}=]|\w[.\/]\w)\S*/g, " ")
				.replace(latin, " ");
			for (const m of text.matchAll(/[A-Za-z][A-Za-z'’-]*(?:[ \u00a0]+[A-Za-z][A-Za-z'’-]*){2,}/g)) found.push(m[0]);
		}
		return found;
	})()`, words))
	for _, s := range found {
		b.t.Errorf("%s shows English in Chinese: %q", b.pathOrBlank(), s)
	}
}
