// Package plugin holds the small interfaces every integration implements — an authenticator
// type (whose credentials and options it validates) and a channel type — with the registry of a
// build's types, the strict decoding their validation shares, and the two halves an
// authenticator's options are stored in (options without secrets, and the sealed secrets by path).
package plugin
