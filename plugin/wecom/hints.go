package wecom

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var fromIPRe = regexp.MustCompile(`from ip: ?([0-9a-fA-F.:]+)`)

// Reason is the one readable sentence an admin sees for a WeCom error: the errcode, WeCom's
// message and, where we know the usual cause, what to do about it.
func Reason(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		s := fmt.Sprintf("WeCom errcode %d (%s).", ae.Code, strings.TrimSpace(ae.Msg))
		if h := Hint(ae.Code, ae.Msg); h != "" {
			s += " " + h
		}
		return s
	}
	return "WeCom could not be reached: " + err.Error() + "."
}

// Hint says what to do about an errcode, or "" when there is nothing specific to say.
func Hint(code int64, msg string) string {
	switch code {
	case 60020:
		ip := "this server's IP"
		if m := fromIPRe.FindStringSubmatch(msg); m != nil {
			ip = m[1]
		}
		return fmt.Sprintf("WeCom refuses calls from %s: add it to the app's 企业可信IP (应用管理 → the app → 企业可信IP).", ip)
	case 40001:
		return "The secret does not belong to this corp ID: copy the app's Secret again (应用管理 → the app → Secret) and check the corp ID (我的企业 → 企业ID)."
	case 40013:
		return "The corp ID is not valid: copy it from 我的企业 → 企业信息 → 企业ID."
	case 301002:
		return "The AgentId does not match the app of this secret: both must come from the same app (应用管理 → the app)."
	case 40056:
		return "The AgentId is not an app of this corp."
	case 43012:
		return "Interactive cards need the app's 接收消息 callback URL: configure it in WeCom and the authenticator's callback Token and EncodingAESKey."
	case 81013:
		return "None of the recipients can receive messages from this app: check the userids and the app's visible range (可见范围)."
	case 82001:
		return "The message has no recipients."
	case 40003, 60111:
		return "A userid is not valid in this corp."
	case 48002:
		return "This secret may not call that API (a contacts-sync secret cannot send messages)."
	case 48009:
		return "WeCom refuses detail reads with this secret from this IP; use the app secret or add the IP to 企业可信IP."
	case 45009:
		return "WeCom's frequency limit was hit; the message waits for the limit window."
	case 45002, 44004, 40058:
		return "WeCom rejected the message content; check the field limits in the docs."
	}
	return ""
}
