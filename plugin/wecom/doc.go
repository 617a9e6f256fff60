// Package wecom is the WeCom (企业微信) integration: the authenticator type that validates a
// self-built app's credentials, the channel type, and — as the product grows — the API client,
// message types, sender, directory sync and card updates. It never imports workflow, server or web.
package wecom
