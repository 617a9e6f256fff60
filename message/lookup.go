package message

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// People by mobile or email (SPEC §9.4). They are resolved when the message is planned, before
// the 202: the message is stored with its WeCom requests, whose touser are userids, and the
// answer already names who is unbound. The cost is a WeCom call per mobile or email not seen
// before; each found one is remembered, so later sends make none.

const (
	// maxContacts bounds to.mobiles and to.emails, each as touser is bounded: a new one costs a
	// WeCom call before the send is answered.
	maxContacts = 1000
	// maxEmailBytes is WeCom's length limit of a member's email.
	maxEmailBytes = 64
	// foundTTL keeps a userid found for a mobile or email that no local user has (a local user
	// with it gets it as binding instead).
	foundTTL = 24 * time.Hour
	// notFoundTTL keeps "nobody" shorter: it is often someone about to be added, who should be
	// reachable the same day; yet a workflow sending to an unknown address every minute fails at
	// most 24 lookups a day instead of 1,440, which would use up the corp's failure budget.
	notFoundTTL = time.Hour
)

// mobileRe is a mobile as WeCom's directory holds it: digits, optionally after "+country code"
// and a space or hyphen.
var mobileRe = regexp.MustCompile(`^(\+[0-9]{1,4}[ -]?)?[0-9]{5,20}$`)

// checkContacts adds an error for each malformed mobile or email: WeCom would count it as a
// failed lookup.
func checkContacts(to Recipients, errs problem.Fields) {
	check := func(field string, values []string, valid func(string) bool, want string) {
		if len(values) > maxContacts {
			errs.Add(field, fmt.Sprintf("has %d entries; at most %d", len(values), maxContacts))
		}
		for i, v := range values {
			if !valid(v) {
				errs.Add(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q is not %s", v, want))
			}
		}
	}
	check("to.mobiles", to.Mobiles, mobileRe.MatchString, "a mobile number: digits, optionally after +country code")
	check("to.emails", to.Emails, validEmail, "an email address: one @ between a name and a domain, at most 64 bytes")
}

func validEmail(s string) bool {
	name, domain, _ := strings.Cut(s, "@")
	return strings.Count(s, "@") == 1 && name != "" && domain != "" && len(s) <= maxEmailBytes && !strings.ContainsAny(s, " \t\r\n")
}

// standInContacts puts a valid mobile or email in the sample "to" of Check wherever the original
// has a variable: only the rendered value can be judged, and sampleOf's "1" is neither.
func standInContacts(sample, original map[string]any) {
	for k, standIn := range map[string]string{"mobiles": "13800000000", "emails": "someone@example.com"} {
		list, _ := sample[k].([]any)
		switch orig := original[k].(type) {
		case string: // one variable: sampleOf made it a one-item list
			if strings.Contains(orig, "{{") && len(list) == 1 {
				list[0] = standIn
			}
		case []any:
			for i, e := range orig {
				if s, ok := e.(string); ok && strings.Contains(s, "{{") && i < len(list) {
					list[i] = standIn
				}
			}
		}
	}
}

// contactKey is a mobile or email as matched and cached: an email lower-cased, since WeCom
// matches emails ignoring case.
type contactKey struct{ kind, value string }

// contact is one of to.mobiles or to.emails, and as given: what unbound lists.
type contact struct {
	contactKey
	given string
}

func contactsOf(to Recipients) []contact {
	var out []contact
	seen := map[contactKey]bool{}
	add := func(kind, given, value string) {
		if k := (contactKey{kind, value}); !seen[k] {
			seen[k] = true
			out = append(out, contact{k, given})
		}
	}
	for _, m := range to.Mobiles {
		add(models.LookupMobile, m, m)
	}
	for _, e := range to.Emails {
		add(models.LookupEmail, e, strings.ToLower(e))
	}
	return out
}

// contactsResolved is how a send's mobiles and emails resolved.
type contactsResolved struct {
	requested int
	userids   []string
	// unbound are the mobiles and emails, as given, that resolved to nobody.
	unbound []string
	// warnings say why some were not looked up at all.
	warnings []string
}

// resolveContacts turns to.mobiles and to.emails into WeCom userids: through the local user with
// that mobile or email and a binding, else a cached lookup, else WeCom — within the corp's budget
// of failed lookups, so that WeCom never blocks its lookups for the day.
func (s *Service) resolveContacts(ctx context.Context, ch *models.Channel, to Recipients) (contactsResolved, error) {
	if ch.Type != wecom.Type {
		return contactsResolved{}, nil // a robot mentions mobiles, it looks nobody up (SPEC §9.2)
	}
	contacts := contactsOf(to)
	r := contactsResolved{requested: len(contacts)}
	if len(contacts) == 0 {
		return r, nil
	}
	bound, err := s.boundContacts(ctx, contacts)
	if err != nil {
		return r, err
	}
	var ask []contact
	for _, c := range contacts {
		if id := bound[c.contactKey]; id != "" {
			r.userids = append(r.userids, id)
		} else {
			ask = append(ask, c)
		}
	}
	if len(ask) == 0 {
		return r, nil
	}
	l, err := s.newLookup(ctx, ch)
	if err != nil {
		return r, err
	}
	cached := map[contactKey]string{}
	for kind, values := range valuesByKind(ask) {
		answers, err := s.store.CachedLookups(ctx, l.corpID, kind, values)
		if err != nil {
			return r, problem.StoreError("Lookup", err)
		}
		for v, id := range answers {
			cached[contactKey{kind, v}] = id
		}
	}
	skipped := 0
	for _, c := range ask {
		id, known := cached[c.contactKey]
		switch {
		case known:
		case l.stop != nil:
			skipped++
		default:
			if id, err = l.resolve(ctx, c); err != nil {
				return r, err
			}
			if l.stop != nil {
				skipped++
			}
		}
		if id != "" {
			r.userids = append(r.userids, id)
		} else {
			r.unbound = append(r.unbound, c.given)
		}
	}
	if skipped > 0 {
		r.warnings = append(r.warnings, fmt.Sprintf("%d of to.mobiles and to.emails could not be looked up: %s.", skipped, strings.TrimSuffix(l.stop.Error(), ".")))
	}
	return r, nil
}

// boundContacts maps each contact that a local user with a binding has to that binding (the
// lowest user id wins).
func (s *Service) boundContacts(ctx context.Context, contacts []contact) (map[contactKey]string, error) {
	values := valuesByKind(contacts)
	users, err := s.store.UsersByContact(ctx, values[models.LookupMobile], values[models.LookupEmail])
	if err != nil {
		return nil, problem.StoreError("User", err)
	}
	bound := map[contactKey]string{}
	for _, u := range users {
		for _, k := range []contactKey{{models.LookupMobile, u.Mobile}, {models.LookupEmail, strings.ToLower(u.Email)}} {
			if k.value != "" && u.WeChatWK != "" && bound[k] == "" {
				bound[k] = u.WeChatWK
			}
		}
	}
	return bound, nil
}

func valuesByKind(contacts []contact) map[string][]string {
	out := map[string][]string{}
	for _, c := range contacts {
		out[c.kind] = append(out[c.kind], c.value)
	}
	return out
}

// lookup asks WeCom about the mobiles and emails of one send, within the corp's daily budget of
// failed lookups.
type lookup struct {
	store  *models.Store
	client *wecom.Client
	corpID string
	day    string
	seats  int
	// stop says why no more lookups are made for this send; nil while they are.
	stop error
}

// newLookup prepares the lookups of a channel's app. The seats are the authenticator's
// options.seats, else the synced directory's members: a lower bound of the seats, so the budget
// is smaller than WeCom's, never larger. With neither, nothing is looked up.
func (s *Service) newLookup(ctx context.Context, ch *models.Channel) (*lookup, error) {
	app, seats, err := s.apps.LookupSeats(ctx, ch.AuthenticatorID)
	l := &lookup{store: s.store, client: s.clients.Client(app), corpID: app.CorpID, day: wecom.LookupDay(s.store.Now()), seats: seats}
	if err != nil {
		l.stop = err
		return l, nil
	}
	if seats == 0 {
		n, err := s.store.CountMembers(ctx, ch.AuthenticatorID)
		if err != nil {
			return nil, problem.StoreError("Member", err)
		}
		l.seats = int(n)
	}
	if l.seats == 0 {
		l.stop = fmt.Errorf("the corp's seat count is unknown, and WeCom blocks lookups for a day once failures pass %d%% of it: set options.seats on the authenticator or sync its directory",
			wecom.LookupFailPercent)
	}
	return l, nil
}

// find asks WeCom for the userid of a contact. why is what kept it from answering one (WeCom's
// error, or no budget left); err is a failure of the store. An email is tried as enterprise
// email, then as personal email.
func (l *lookup) find(ctx context.Context, c contact) (id string, why, err error) {
	if c.kind == models.LookupMobile {
		return l.ask(ctx, func() (string, error) { return l.client.UserIDByMobile(ctx, c.value) })
	}
	id, why, err = l.ask(ctx, func() (string, error) { return l.client.UserIDByEmail(ctx, c.value, wecom.EmailEnterprise) })
	if !wecom.LookupNoSuchMember(why) {
		return id, why, err
	}
	return l.ask(ctx, func() (string, error) { return l.client.UserIDByEmail(ctx, c.value, wecom.EmailPersonal) })
}

// ask makes one lookup if the day's budget allows: it is counted as failed before it is made (so
// concurrent sends cannot overshoot together) and given back unless WeCom may count it.
func (l *lookup) ask(ctx context.Context, call func() (string, error)) (id string, why, err error) {
	limit := wecom.LookupBudget(l.seats)
	taken, err := l.store.TakeLookupBudget(ctx, l.corpID, l.day, limit)
	if err != nil {
		return "", nil, problem.StoreError("Lookup", err)
	}
	if !taken {
		l.stop = fmt.Errorf("corp %s has had %d failed lookups today, the most this server allows (WeCom blocks lookups for the rest of the day past %d%% of %d seats)",
			l.corpID, limit, wecom.LookupFailPercent, l.seats)
		return "", l.stop, nil
	}
	id, why = call()
	switch {
	case wecom.LookupBlocked(why):
		err = l.store.UseUpLookupBudget(ctx, l.corpID, l.day, limit)
	case !wecom.LookupCounted(why):
		err = l.store.ReturnLookupBudget(ctx, l.corpID, l.day)
	}
	return id, why, problem.StoreError("Lookup", err)
}

// resolve looks a contact up and remembers the answer: "" is nobody, or not asked (l.stop then
// says why). A userid found becomes the binding of the local users with that mobile or email
// that have none; with no such user it is cached.
func (l *lookup) resolve(ctx context.Context, c contact) (string, error) {
	id, why, err := l.find(ctx, c)
	switch {
	case err != nil:
		return "", err
	case why == nil:
		n, err := l.store.BindUsersByContact(ctx, c.kind, c.value, id)
		if err == nil && n == 0 {
			err = l.store.SaveLookup(ctx, models.UserLookup{CorpID: l.corpID, Kind: c.kind, Value: c.value, WeComUserID: id}, foundTTL)
		}
		return id, problem.StoreError("Lookup", err)
	case wecom.LookupNotFound(why):
		return "", problem.StoreError("Lookup", l.store.SaveLookup(ctx, models.UserLookup{CorpID: l.corpID, Kind: c.kind, Value: c.value}, notFoundTTL))
	case l.stop != nil: // no budget left
	case wecom.LookupBlocked(why):
		l.stop = errors.New("WeCom refuses this corp's lookups (errcode 45009; after too many failures that lasts the rest of the day), so none are asked again today")
	default:
		// The rest would fail alike (a secret that may not look up, an IP not trusted, WeCom down).
		l.stop = errors.New(wecom.Reason(why))
	}
	return "", nil
}
