// Package wecom is the WeCom (企业微信) integration: the authenticator and channel types that
// validate a self-built app's options, an authenticator's usable credentials (Apps: the one place
// that reads its sealed secrets), the API client with its token cache, the message types and
// WeCom's rules for them, the sender that delivers the outbox at WeCom's pace, and the directory
// syncer (full syncs and change_contact events). It never imports workflow, service, server or web.
package wecom
