// Package plugin holds the small interfaces every integration implements — an authenticator
// type (whose credentials and options it validates) and a channel type — and the field-error
// type their validation reports with.
package plugin
