package wecomtest

import (
	"fmt"
)

// The errcodes the simulator answers. Numbers and meanings come from WeCom's global errcode
// page (90313); the English texts imitate WeCom's errmsg style, which clients must not parse
// (WeCom says so itself) except for the "from ip: x.x.x.x" part of 60020.
const (
	codeSystemBusy          = -1
	codeInvalidSecret       = 40001
	codeInvalidMediaType    = 40004
	codeInvalidFileSize     = 40006
	codeInvalidMediaID      = 40007
	codeInvalidMsgType      = 40008
	codeInvalidCorpID       = 40013
	codeInvalidToken        = 40014
	codeInvalidOAuthCode    = 40029
	codeUserListSize        = 40032
	codeInvalidAgentID      = 40056
	codeInvalidParameter    = 40058
	codeNewsNoSafe          = 40074
	codeMissingToken        = 41001
	codeMissingCorpID       = 41002
	codeMissingSecret       = 41004
	codeMissingMediaID      = 41006
	codeMissingOAuthCode    = 41008
	codeMissingUserID       = 41009
	codeMissingURL          = 41010
	codeMissingAgentID      = 41011
	codeMissingTitle        = 41016
	codeMissingDesc         = 41033
	codeTokenExpired        = 42001
	codeCardWrongApp        = 42015
	codeRecallTooLate       = 42052
	codeRequirePOST         = 43002
	codeNeedsCallback       = 43012
	codeEmptyMedia          = 44001
	codeEmptyContent        = 44004
	codeContentTooLarge     = 45002
	codeArticleCount        = 45008
	codeFreqOutOfLimit      = 45009
	codeAuthorTooLong       = 45032
	codeURLNoScheme         = 45034
	codeDataFormat          = 47001
	codeAPIForbidden        = 48002
	codeAPINotAuthorized    = 48009
	codeInvalidCursor       = 50100
	codeNoPrivilege         = 60011
	codeIPNotAllowed        = 60020
	codeUserNotFound        = 60111
	codeInvalidPartyID      = 60123
	codeResponseCodeGone    = 60140
	codeAllInvalid          = 81013
	codeNoRecipients        = 82001
	codePartyListSize       = 82002
	codeTagListSize         = 82003
	codeMiniAppIDMissing    = 90200
	codeMiniItemCount       = 90201
	codeMiniItemKey         = 90202
	codeMiniItemValue       = 90203
	codeAnotherAgent        = 301002
	codeVoiceMustBeAMR      = 301017
	codeInvalidUserID       = 40003
	codeInvalidImageSize    = 40009
	codeInvalidExternalUser = 40096
	codeInvalidImageFormat  = 40123
	codeMissingExternalUser = 41035
	codeMissingMsgID        = 41046
	codeInvalidMsgID        = 41047
	codeNoCustomers         = 41048
	codeGroupMsgCanceled    = 41093
	codeUserNotExist        = 46004
	codeInvalidMobile       = 60103
	codeInvalidEmail        = 60105
	codeInvalidChatID       = 86001
	codeChatNotFound        = 86003
	codeInvalidChatName     = 86004
	codeInvalidChatOwner    = 86005
	codeChatMemberCount     = 86006
	codeInvalidChatMember   = 86007
	codeNotChatCreator      = 86008
	codeMissingChatID       = 86201
	codeOwnerNotMember      = 86207
	codeChatIDExists        = 86215
	codeInvalidChatMemberID = 86216
	codeInvalidWebhook      = 93000
	codeMediaMD5Mismatch    = 301019
	codeInvalidAttachment   = 41065
	codeInvalidChatType     = 86214
	moreInfoURL             = "https://open.work.weixin.qq.com/devtool/query?e="
	defaultUnknownErrText   = "unknown error"
)

// errText is the errmsg head WeCom uses for code. A switch rather than a map keeps the
// catalogue immutable.
func errText(code int) string {
	switch code {
	case 0:
		return "ok"
	case codeSystemBusy:
		return "system busy"
	case codeInvalidSecret:
		return "invalid credential"
	case codeInvalidMediaType:
		return "invalid media type"
	case codeInvalidFileSize:
		return "invalid file size"
	case codeInvalidMediaID:
		return "invalid media_id"
	case codeInvalidMsgType:
		return "invalid message type"
	case codeInvalidCorpID:
		return "invalid corpid"
	case codeInvalidToken:
		return "invalid access_token"
	case codeInvalidOAuthCode:
		return "invalid code"
	case codeUserListSize:
		return "invalid userid list size"
	case codeInvalidAgentID:
		return "invalid agentid"
	case codeInvalidParameter:
		return "invalid Request Parameter"
	case codeNewsNoSafe:
		return "news message does not support safe mode, use mpnews"
	case codeMissingToken:
		return "access_token missing"
	case codeMissingCorpID:
		return "corpid missing"
	case codeMissingSecret:
		return "corpsecret missing"
	case codeMissingMediaID:
		return "media_id missing"
	case codeMissingOAuthCode:
		return "missing code"
	case codeMissingUserID:
		return "userid missing"
	case codeMissingURL:
		return "url missing"
	case codeMissingAgentID:
		return "agentid missing"
	case codeMissingTitle:
		return "title missing"
	case codeMissingDesc:
		return "description missing"
	case codeTokenExpired:
		return "access_token expired"
	case codeCardWrongApp:
		return "the app updating the card is not the app that sent it"
	case codeRecallTooLate:
		return "recall time limit exceeded, only messages sent within 24 hours can be recalled"
	case codeRequirePOST:
		return "require POST method"
	case codeNeedsCallback:
		return "interactive message requires the app to set a callback url"
	case codeEmptyMedia:
		return "empty media data"
	case codeEmptyContent:
		return "empty content"
	case codeContentTooLarge:
		return "content size out of limit"
	case codeArticleCount:
		return "article size out of limit"
	case codeFreqOutOfLimit:
		return "api freq out of limit"
	case codeAuthorTooLong:
		return "author size out of limit"
	case codeURLNoScheme:
		return "url must start with http:// or https://"
	case codeDataFormat:
		return "data format error"
	case codeAPIForbidden:
		return "api forbidden"
	case codeAPINotAuthorized:
		return "api not authorized for this secret from this ip"
	case codeInvalidCursor:
		return "invalid cursor"
	case codeNoPrivilege:
		return "no privilege to access/modify contact/party/agent"
	case codeIPNotAllowed:
		return "not allow to access from your ip"
	case codeUserNotFound:
		return "userid not found"
	case codeInvalidPartyID:
		return "invalid party id"
	case codeResponseCodeGone:
		return "response_code invalid"
	case codeAllInvalid:
		return "user & party & tag all invalid"
	case codeNoRecipients:
		return "touser & toparty & totag all empty"
	case codePartyListSize:
		return "invalid party list size"
	case codeTagListSize:
		return "invalid tag list size"
	case codeMiniAppIDMissing:
		return "miniprogram appid missing"
	case codeMiniItemCount:
		return "content_item count out of limit"
	case codeMiniItemKey:
		return "invalid content_item key length"
	case codeMiniItemValue:
		return "invalid content_item value length"
	case codeAnotherAgent:
		return "not allow operate another agent with this accesstoken."
	case codeVoiceMustBeAMR:
		return "voice file must be AMR"
	case codeInvalidUserID:
		return "invalid userid"
	case codeInvalidImageSize:
		return "invalid image size"
	case codeInvalidExternalUser:
		return "invalid external userid"
	case codeInvalidImageFormat:
		return "invalid image format"
	case codeMissingExternalUser:
		return "external_userid missing"
	case codeMissingMsgID:
		return "msgid missing"
	case codeInvalidMsgID:
		return "invalid msgid"
	case codeNoCustomers:
		return "no customer to send"
	case codeGroupMsgCanceled:
		return "group message canceled"
	case codeUserNotExist:
		return "user not exist"
	case codeInvalidMobile:
		return "mobile invalid"
	case codeInvalidEmail:
		return "email invalid"
	case codeInvalidChatID:
		return "chatid invalid"
	case codeChatNotFound:
		return "chatid not exist"
	case codeInvalidChatName:
		return "invalid chat name"
	case codeInvalidChatOwner:
		return "invalid chat owner"
	case codeChatMemberCount:
		return "invalid chat member list size"
	case codeInvalidChatMember:
		return "invalid chat member"
	case codeNotChatCreator:
		return "chat not created by this app"
	case codeMissingChatID:
		return "chatid missing"
	case codeOwnerNotMember:
		return "chat owner not in member list"
	case codeChatIDExists:
		return "chatid exists"
	case codeInvalidChatMemberID:
		return "invalid chat member id"
	case codeInvalidWebhook:
		return "invalid webhook url"
	case codeMediaMD5Mismatch:
		return "media md5 not match"
	case codeInvalidAttachment:
		return "invalid attachment type"
	case codeInvalidChatType:
		return "invalid chat_type"
	}
	return defaultUnknownErrText
}

// apiError is WeCom's error body: HTTP 200 with a non-zero errcode.
type apiError struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// vErr is a validation failure found before the caller's identity is known; it becomes an
// apiError once the request has been authenticated, so auth errors keep WeCom's precedence.
type vErr struct {
	code   int
	detail string
}

func bad(code int, format string, args ...any) *vErr {
	return &vErr{code: code, detail: fmt.Sprintf(format, args...)}
}

// errmsg builds WeCom's errmsg: "<text>, hint: [<id>], from ip: <ip>, more info at <url><code>".
// The head is detail when given (it names the offending field), else the catalogue text.
func (s *Server) errmsg(code int, detail, ip string) string {
	if code == 0 {
		return "ok"
	}
	head := detail
	if head == "" {
		head = errText(code)
	}
	n := s.hintSeq.Add(1)
	h1, h2 := splitmix(s.seed^n), splitmix(n*0x9e3779b97f4a7c15)
	return fmt.Sprintf("%s, hint: [%d_%d_%016x%016x], from ip: %s, more info at %s%d",
		head, s.now().Unix(), n%1000, h1, h2, ip, moreInfoURL, code)
}

func (s *Server) fail(code int, detail, ip string) *apiError {
	return &apiError{ErrCode: code, ErrMsg: s.errmsg(code, detail, ip)}
}

func (s *Server) failV(e *vErr, ip string) *apiError { return s.fail(e.code, e.detail, ip) }

// splitmix is SplitMix64: a cheap, well-mixed hash for hint ids that needs no lock.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
