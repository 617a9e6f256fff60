// Package lockout shuts out a client address that fails authentication too often: after 20
// failures within a minute, every authentication from that address is refused (rate_limited,
// with Retry-After) until the minute has passed — valid credentials too, so a guesser learns
// nothing more. Every place that checks a credential (the API's token and session cookie, the
// pages' session, the log-in form) goes through the one Counter its server builds. Counts live in
// the process's memory, in a table of bounded size.
package lockout
