// Package callback is WeCom's side of the conversation: the message-reception URLs
// /callback/wecom/{name} and /callback/wecom/{name}/contacts. It verifies and decrypts what WeCom
// sends, stores each event once before answering, and hands stored events to subscribers (the
// directory, card responses, workflow triggers) after the answer, retrying until they succeed.
// It knows no subscriber: the server wires them in.
package callback
