// Package wecomtest is an in-process, faithful WeCom (企业微信) server: an http.Handler that
// answers /cgi-bin/... with WeCom's JSON shapes and errcodes, records what would have reached each
// member's phone, and reproduces WeCom's traps (silently dropped messages beyond the per-member
// rate, duplicate checks that answer "ok" without delivering, tokens invalidated early, answers
// lost after the work was done). Tests of the product and the `wecomflow sandbox` command use it
// instead of WeCom; its CallbackCaller plays WeCom calling the product's callback URLs. It also
// serves WeCom's sign-in pages (the QR log-in and the in-app OAuth page), where the person at the
// browser picks which member signs in, and auth/getuserinfo, which turns the resulting code into
// that member's userid. Beyond app messages it plays group robots (webhook/send, whose
// 20-a-minute limit refuses rather than drops), app group chats (appchat), userid lookups by
// mobile or email with their daily block, and customer mass messaging with the 客户联系 secret,
// where ConfirmMassMessage plays the member tapping send.
//
// Where WeCom's documentation is silent the choice is written next to the code that makes it,
// so a test that depends on it can find it.
package wecomtest
