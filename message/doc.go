// Package message is what SPEC §3.4 calls Messages: accepting a send (validate, render, resolve
// media, plan the WeCom requests and store them with the message before the 202), checking a
// notification node's message ahead of its data, the send log with its actions (wait, cancel,
// retry, recall — the state rules in Actions), uploads, and the clicks on interactive cards. The
// sender in plugin/wecom delivers what it stores; the REST API, the pages and the workflow engine
// call it.
package message
