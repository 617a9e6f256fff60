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

// credentialInAnswer is a credential as WeCom echoes a request in an answer's errmsg: the query
// parameters that carry the access token, the app secret and a group robot's key.
var credentialInAnswer = regexp.MustCompile(`(?i)(access_token|corpsecret|key)=[^&\s"'<>]+`)

// MaskSecrets hides the credentials a WeCom answer may echo, before the answer is stored, shown or
// logged anywhere.
func MaskSecrets(s string) string {
	return credentialInAnswer.ReplaceAllString(s, "$1=***")
}

// hint is what to do about an errcode, in each language the web UI speaks; a %s stands for the IP
// WeCom named in its message.
type hint struct{ en, zh string }

var (
	hintUserID  = hint{"A userid is not valid in this corp.", "有 userid 在本企业中无效。"}
	hintContent = hint{"WeCom rejected the message content; check the field limits in the docs.", "企业微信拒绝了消息内容：请对照文档检查各字段的限制。"}
	hints       = map[int64]hint{
		60020: {"WeCom refuses calls from %s: add it to the app's 企业可信IP (应用管理 → the app → 企业可信IP).",
			"企业微信拒绝来自 %s 的调用：请把它加入应用的企业可信IP（应用管理 → 该应用 → 企业可信IP）。"},
		40001: {"The secret does not belong to this corp ID: copy the app's Secret again (应用管理 → the app → Secret) and check the corp ID (我的企业 → 企业ID).",
			"Secret 不属于这个企业ID：请重新复制应用的 Secret（应用管理 → 该应用 → Secret），并核对企业ID（我的企业 → 企业ID）。"},
		40013: {"The corp ID is not valid: copy it from 我的企业 → 企业信息 → 企业ID.",
			"企业ID 无效：请从 我的企业 → 企业信息 → 企业ID 复制。"},
		301002: {"The AgentId does not match the app of this secret: both must come from the same app (应用管理 → the app).",
			"AgentId 与这个 Secret 所属的应用不一致：两者必须来自同一个应用（应用管理 → 该应用）。"},
		40056: {"The AgentId is not an app of this corp.", "这个 AgentId 不是本企业的应用。"},
		43012: {"Interactive cards need the app's 接收消息 callback URL: configure it in WeCom and the authenticator's callback Token and EncodingAESKey.",
			"交互卡片需要应用的“接收消息”回调地址：请在企业微信中配置它，并在认证器中填写回调 Token 和 EncodingAESKey。"},
		81013: {"None of the recipients can receive messages from this app: check the userids and the app's visible range (可见范围).",
			"没有一个接收人能收到这个应用的消息：请核对 userid 和应用的可见范围。"},
		82001: {"The message has no recipients.", "消息没有接收人。"},
		40003: hintUserID,
		60111: hintUserID,
		48002: {"This secret may not call that API (a contacts-sync secret cannot send messages).",
			"这个 Secret 无权调用该接口（通讯录同步的 Secret 不能发消息）。"},
		48009: {"WeCom refuses detail reads with this secret from this IP; use the app secret or add the IP to 企业可信IP.",
			"企业微信拒绝用这个 Secret 从该 IP 读取详情：请使用应用的 Secret，或把该 IP 加入企业可信IP。"},
		45009: {"WeCom's frequency limit was hit; the message waits for the limit window.",
			"触发了企业微信的频率限制；消息会等限制窗口过去后再发。"},
		93000: {"The robot's webhook URL is not valid or the robot was removed from its group: paste the webhook URL again (group chat → 群机器人).",
			"机器人的 webhook 地址无效，或机器人已被移出群聊：请重新粘贴 webhook 地址（群聊 → 群机器人）。"},
		45002: hintContent,
		44004: hintContent,
		40058: hintContent,
	}
)

// thisServer is what a hint calls this server when WeCom's message names no IP.
var thisServer = hint{"this server's IP", "本服务器的 IP"}

// HintFormats are the hints as formats (%s: the IP) in English → in lang, for the web UI's table
// that translates the sentences stored with a failed message or task (they hold the English
// hint). Nil for English.
func HintFormats(lang string) map[string]string {
	if lang != "zh-CN" {
		return nil
	}
	out := map[string]string{thisServer.en: thisServer.zh}
	for _, h := range hints {
		out[h.en] = h.zh
	}
	return out
}

// Hint says what to do about an errcode, or "" when there is nothing specific to say.
func Hint(code int64, msg string) string { return HintIn("en", code, msg) }

// HintIn is Hint in the web UI's language lang: "zh-CN" is Chinese, anything else English.
func HintIn(lang string, code int64, msg string) string {
	h, ok := hints[code]
	if !ok {
		return ""
	}
	text, ip := h.en, thisServer.en
	if lang == "zh-CN" {
		text, ip = h.zh, thisServer.zh
	}
	if !strings.Contains(text, "%s") {
		return text
	}
	if m := fromIPRe.FindStringSubmatch(msg); m != nil {
		ip = m[1]
	}
	return fmt.Sprintf(text, ip)
}
