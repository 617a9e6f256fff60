package web

import (
	"fmt"
	"github.com/gin-gonic/gin"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/callback"
	"github.com/wecomflow/wecomflow/lockout"
	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/plugin/wecomrobot"
	"github.com/wecomflow/wecomflow/workflow"
)

// staticBudget is what all of our assets together may weigh.
const staticBudget = 150 << 10

// Every key of the catalogue has a text in every language, and the texts of one key take the
// same arguments.
func TestCatalogueIsComplete(t *testing.T) {
	t.Parallel()
	cat, err := loadCatalogue(files)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, lang := range languages {
		if len(cat[lang]) == 0 {
			t.Fatalf("the %s catalogue is empty", lang)
		}
		for k := range cat[lang] {
			keys[k] = true
		}
	}
	for _, k := range sortedKeys(keys) {
		want := ""
		for i, lang := range languages {
			text, ok := cat[lang][k]
			switch {
			case !ok:
				t.Errorf("%s: no %s text", k, lang)
				continue
			case strings.TrimSpace(text) == "":
				t.Errorf("%s: the %s text is empty", k, lang)
			}
			verbs := strings.Join(fmtVerbs(text), " ")
			if i == 0 {
				want = verbs
			} else if verbs != want {
				t.Errorf("%s: the %s text takes %q, the %s one %q", k, lang, verbs, languages[0], want)
			}
		}
	}
}

// verbRE finds fmt verbs (with an optional argument index, flags, width and precision).
var verbRE = regexp.MustCompile(`%(?:\[\d+\])?[-+# 0]*\d*(?:\.\d+)?[a-zA-Z%]`)

// fmtVerbs are the argument-taking verbs of a text, sorted, without their argument indexes.
func fmtVerbs(text string) []string {
	var out []string
	for _, v := range verbRE.FindAllString(text, -1) {
		if v == "%%" {
			continue
		}
		out = append(out, regexp.MustCompile(`\[\d+\]`).ReplaceAllString(v, ""))
	}
	sort.Strings(out)
	return out
}

// dynamicKeys are the keys built from a value, by prefix: in a template with
// (printf "prefix.%s" .Value), in a script with "prefix." + value. Every value needs its text.
var dynamicKeys = map[string][]string{
	"channel.status.":  everyMessageStatus,
	"msg.status.":      everyMessageStatus,
	"msg.req.status.":  {models.RequestPending, models.RequestSending, models.RequestRetrying, models.RequestSent, models.RequestFailed, models.RequestCanceled},
	"msg.from.":        {message.FromAPI, message.FromWorkflow, message.FromTest},
	"exec.status.":     models.ExecutionStatuses(),
	"exec.job.status.": {models.JobPending, models.JobResolved, models.JobFailed, models.JobError, models.JobAborted, models.JobCanceled},
	"exec.trigger.":    workflowTriggers,
	"wf.trigger.":      workflowTriggers,
	"event.kind.":      {callback.KindApp, callback.KindContacts},
	"event.status.":    {models.EventReceived, models.EventProcessed, models.EventFailed},
	"sync.status.":     {models.SyncInit, models.SyncProcessing, models.SyncSuccess, models.SyncFailed},
	"sync.trigger.":    {wecom.TriggerAPI, wecom.TriggerSchedule},
	"user.source.":     {models.SourceManual, models.SourceImport, models.SourceSync},
	"channel.type.":    {wecom.Type, wecomrobot.Type},
	"inbox.group.":     {"robot", "chat"},
	// A WeCom member's status: active, disabled, not activated, left (0 when WeCom did not say).
	"dir.status.": {"0", "1", "2", "4", "5"},
	"role.":       roleNames(),
	"audit.kind.": {access.KindAccount, access.KindToken, access.KindSystem},
	// A bulk change's counts in the audit log.
	"audit.count.":   {"created", "updated", "failed"},
	"mass.status.":   {models.MassCreated, models.MassSending, models.MassFinished, models.MassCanceled},
	"mass.chatType.": {"single", "group"},
	"mass.member.":   {models.MassMemberSent, models.MassMemberUnsent},
	"hook.event.":    models.HookEventTypes(),
	// The credential a recipe's install answers with, by the recipe's auth.
	"recipe.credential.": {workflow.AuthBearer, workflow.AuthGrafana, workflow.AuthHMAC},
	// The Send page's recipient fields and what their pickers search.
	"send.to.":   recipientFields,
	"send.help.": recipientFields,
	"send.pick.": {"users", "members", "departments", "tags", "chats"},

	// editor.js and cards.js.
	"wf.node.":        {workflow.NodeNotification, workflow.NodeCondition, workflow.NodeDelay, workflow.NodeDigest, workflow.NodeEnd, workflow.NodeChat},
	"wf.msg.":         wecom.MsgTypes(),
	"wf.card.":        wecom.CardTypes(),
	"wf.cards.":       {"image", "voice", "video", "file"},
	"wf.branch.":      {"true", "false"},
	"wf.end.":         {models.JobResolved, models.JobFailed},
	"wf.media.":       {"media_id", "url", "id"},
	"wf.n.to.linked.": {"users", "departments"},
	"wf.chat.":        {"name", "owner", "chatid", "name.help", "owner.help", "chatid.help"},
	// A template card's enumerations, as set.value: colors, horizontal content types, button
	// styles and types, checkbox modes, link types.
	"wf.enum.": {"color.0", "color.1", "color.2", "color.3", "hz.0", "hz.1", "hz.2", "hz.3", "style.1", "style.2", "style.3",
		"style.4", "btn.0", "btn.1", "mode.0", "mode.1", "link.0", "link.1", "link.2"},
	// A webhook trigger's auth modes, their credentials and help, and its body formats.
	"wf.auth.":      webhookAuthTypes,
	"wf.auth.cred.": webhookAuthTypes,
	"wf.auth.help.": webhookAuthTypes,
	"wf.format.":    {workflow.FormatJSON, workflow.FormatForm},
	// A field's label falls back to the field's API name by design.
	"wf.f.": nil,
}

// roleNames are the four roles as the pages name them.
func roleNames() []string {
	var out []string
	for _, r := range access.Roles() {
		out = append(out, string(r))
	}
	return out
}

var webhookAuthTypes = []string{workflow.AuthHMAC, workflow.AuthBearer, workflow.AuthBasic, workflow.AuthGrafana}

var workflowTriggers = []string{workflow.TriggerManual, workflow.TriggerWebhook, workflow.TriggerSchedule, workflow.TriggerWeComEvent}

var everyMessageStatus = []string{models.MessageScheduled, models.MessageQueued, models.MessageSending, models.MessageRetrying, models.MessageSent,
	models.MessagePartial, models.MessageFailed, models.MessageCanceled}

var (
	// templateKeyRE finds .T "key", $.T "key" and .V.T "key".
	templateKeyRE = regexp.MustCompile(`\.T\s+"([^"]+)"`)
	// templateArgRE finds a partial's catalogue-key arguments: dict … "Label" "key" or, when
	// the key is chosen in the template, "Help" (or (and $a "a.key") "b.key").
	templateArgRE = regexp.MustCompile(`"(?:Label|Help)"\s+("[^"]*"|\()`)
	quotedRE      = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
	// templatePrintfRE finds keys built in a template: (printf "msg.status.%s" .Status) or
	// (print "wf.trigger." .Type).
	templatePrintfRE = regexp.MustCompile(`\((?:printf\s+"([a-z][A-Za-z0-9.]*\.)%[sd]"|print\s+"([a-z][A-Za-z0-9.]*\.)"\s)`)
	// goKeyRE finds a key-shaped string that ends a call's arguments in a handler:
	// u.redirect(c, target, "flash.saved"), u.cat.text(lang, "login.invalid"). What it follows
	// tells a form field's name (c.PostForm("to.users")) apart.
	goKeyRE   = regexp.MustCompile(`"([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)+)"\)`)
	goFieldRE = regexp.MustCompile(`\b(?:PostForm|PostFormArray|Query|DefaultQuery|FormValue|FormFile|Param|GetHeader|Cookie|Get)\(\s*$`)
	// jsPrefixRE finds a key a script builds: "wf.msg." + type.
	jsPrefixRE = regexp.MustCompile(`["']([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*\.)["']\s*\+`)
	// jsStringRE finds the string literals of a script.
	jsStringRE = regexp.MustCompile(`"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'`)
	// keyShapeRE is what a catalogue key looks like: dotted lower-camel words.
	keyShapeRE = regexp.MustCompile(`^[a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)+$`)
)

// Every key the templates, the scripts and the handlers use is in the catalogue.
func TestUsedKeysAreInTheCatalogue(t *testing.T) {
	t.Parallel()
	cat, err := loadCatalogue(files)
	if err != nil {
		t.Fatal(err)
	}
	known := cat[languages[0]]
	// namespaces are the first words of the keys ("auth" of auth.name): a script's string that
	// starts with one and looks like a key is taken for a key.
	namespaces := map[string]bool{}
	for k := range known {
		ns, _, _ := strings.Cut(k, ".")
		namespaces[ns] = true
	}
	used := map[string][]string{} // key → where
	use := func(key, where string) { used[key] = append(used[key], where) }

	for _, name := range embedded(t, "templates", ".html") {
		src := readEmbedded(t, name)
		for _, m := range templateKeyRE.FindAllStringSubmatch(src, -1) {
			use(m[1], name)
		}
		for _, m := range templatePrintfRE.FindAllStringSubmatch(src, -1) {
			prefix := m[1] + m[2]
			values, ok := dynamicKeys[prefix]
			if !ok {
				t.Errorf("%s builds keys %s…: list the values it takes in dynamicKeys", name, prefix)
			}
			for _, v := range values {
				use(prefix+v, name)
			}
		}
		for _, loc := range templateArgRE.FindAllStringSubmatchIndex(src, -1) {
			arg := src[loc[2]:loc[3]]
			if arg == "(" {
				arg = balanced(src[loc[2]:])
			}
			for _, q := range quotedRE.FindAllStringSubmatch(arg, -1) {
				use(q[1], name)
			}
		}
	}
	for _, name := range embedded(t, "static", ".js") {
		src := readEmbedded(t, name)
		for _, m := range jsPrefixRE.FindAllStringSubmatch(src, -1) {
			ns, _, _ := strings.Cut(m[1], ".")
			if !namespaces[ns] {
				continue
			}
			values, ok := dynamicKeys[m[1]]
			if !ok {
				t.Errorf("%s builds keys %s…: list the values it takes in dynamicKeys", name, m[1])
			}
			for _, v := range values {
				use(m[1]+v, name)
			}
		}
		for _, m := range jsStringRE.FindAllStringSubmatch(src, -1) {
			s := m[1] + m[2]
			ns, _, _ := strings.Cut(s, ".")
			if keyShapeRE.MatchString(s) && namespaces[ns] {
				use(s, name)
			}
		}
	}
	goFiles, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range goFiles {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, loc := range goKeyRE.FindAllStringSubmatchIndex(string(src), -1) {
			key := string(src[loc[2]:loc[3]])
			before := string(src[:loc[0]])
			before = before[strings.LastIndexByte(before, '\n')+1:]
			ns, _, _ := strings.Cut(key, ".")
			if namespaces[ns] && !goFieldRE.MatchString(before) {
				use(key, name)
			}
		}
	}
	if len(used) == 0 {
		t.Fatal("found no catalogue key in the templates: the patterns are broken")
	}
	for _, k := range sortedKeys(used) {
		where := slices.Compact(slices.Sorted(slices.Values(used[k])))
		for _, lang := range languages {
			if _, ok := cat[lang][k]; !ok {
				t.Errorf("%q (used in %s) is not in the %s catalogue", k, strings.Join(where, ", "), lang)
			}
		}
	}
	t.Logf("%d keys used, %d in the catalogue", len(used), len(known))
}

// balanced is the parenthesised expression s starts with.
func balanced(s string) string {
	depth, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			if depth--; depth == 0 {
				return s[:i+1]
			}
		}
	}
	return s
}

// Our assets together weigh less than the budget.
func TestStaticAssetsWeighLessThanTheBudget(t *testing.T) {
	t.Parallel()
	total := 0
	var sizes []string
	err := fs.WalkDir(files, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += int(info.Size())
		sizes = append(sizes, name+" "+formatKB(int(info.Size())))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("static assets: %s in %d files (%s); the budget is %s", formatKB(total), len(sizes), strings.Join(sizes, ", "), formatKB(staticBudget))
	if total >= staticBudget {
		t.Errorf("static assets weigh %s, more than the %s budget", formatKB(total), formatKB(staticBudget))
	}
}

func formatKB(n int) string { return fmt.Sprintf("%.1f KB", float64(n)/1024) }

// No template, stylesheet or script loads anything from another origin.
func TestNothingLoadsFromAnotherOrigin(t *testing.T) {
	t.Parallel()
	const other = `(?:https?:|//)`
	patterns := []*regexp.Regexp{
		// an attribute, or a script setting one: src="https://…", a.href = "//…"
		regexp.MustCompile(`(?i)\b(?:src|srcset|href|action|formaction|poster|data|ping|manifest)\s*=\s*["'\x60]?\s*` + other),
		regexp.MustCompile(`(?i)\burl\(\s*["']?\s*` + other),
		regexp.MustCompile(`(?i)@import\s+(?:url\()?\s*["']?\s*` + other),
		regexp.MustCompile(`(?i)\bfetch\(\s*["'\x60]\s*` + other),
		regexp.MustCompile(`(?i)\bimport\b[^;\n]*?["'\x60]\s*` + other),
		regexp.MustCompile(`(?i)\bnew\s+(?:WebSocket|EventSource|Worker|SharedWorker)\(\s*["'\x60]\s*(?:wss?:|https?:|//)`),
		regexp.MustCompile(`(?i)\.open\(\s*["'][A-Z]+["']\s*,\s*["'\x60]\s*` + other),
		regexp.MustCompile(`(?i)\bsendBeacon\(\s*["'\x60]\s*` + other),
	}
	var names []string
	for _, ext := range []string{".html", ".css", ".js"} {
		names = append(names, embedded(t, "templates", ext)...)
		names = append(names, embedded(t, "static", ext)...)
	}
	if len(names) == 0 {
		t.Fatal("no template or asset found")
	}
	for _, name := range names {
		for i, line := range strings.Split(readEmbedded(t, name), "\n") {
			for _, re := range patterns {
				if re.MatchString(line) {
					t.Errorf("%s:%d loads from another origin: %s", name, i+1, strings.TrimSpace(line))
					break
				}
			}
		}
	}
}

// Every template parses, and every page file becomes a page.
func TestTemplatesParse(t *testing.T) {
	t.Parallel()
	u, err := New(Deps{Log: slog.New(slog.DiscardHandler), Lockout: lockout.New(lockout.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	pages := embedded(t, "templates/pages", ".html")
	if len(pages) == 0 || len(u.pages) != len(pages) {
		t.Fatalf("%d pages parsed from %d files", len(u.pages), len(pages))
	}
	for _, name := range pages {
		page := strings.TrimSuffix(path.Base(name), ".html")
		if u.pages[page] == nil || u.pages[page].Lookup("content") == nil {
			t.Errorf("%s: no content template", name)
		}
	}
}

// A page whose template fails midway answers 500 with the error page, not a 200 with the half
// drawn so far.
func TestAFailingPageAnswers500(t *testing.T) {
	t.Parallel()
	u, err := New(Deps{Log: slog.New(slog.DiscardHandler), Lockout: lockout.New(lockout.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	broken, err := u.pages["error"].Clone()
	if err != nil {
		t.Fatal(err)
	}
	u.pages["broken"] = template.Must(broken.Parse(`{{define "content"}}<p id="half">drawn</p>{{index .Data.List 3}}{{end}}`))
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("GET", "/ui/broken", nil)
	u.render(c, http.StatusOK, "broken", map[string]any{"List": []int{}})
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), `id="half"`) || !strings.Contains(w.Body.String(), "Something went wrong") {
		t.Errorf("a failing page: %d\n%s", w.Code, w.Body.String())
	}
}

// embedded lists the embedded files under dir whose names end in ext.
func embedded(t *testing.T, dir, ext string) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(files, dir, func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(name, ext) {
			out = append(out, name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readEmbedded(t *testing.T, name string) string {
	t.Helper()
	raw, err := fs.ReadFile(files, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
