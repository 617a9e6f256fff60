package wecomtest

import (
	"bytes"
	"encoding/xml"
	"sort"
	"strconv"
	"strings"
)

// The plaintext XML WeCom encrypts into callbacks (pages 90238, 90240, 90968), laid out as in
// WeCom's samples: string fields in CDATA, numeric ones bare, one element per line.

// cdata wraps s in CDATA, splitting any "]]>" so the text survives intact.
func cdata(s string) string {
	return "<![CDATA[" + strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") + "]]>"
}

func bare(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

type xmlBuilder struct{ b strings.Builder }

func newXML() *xmlBuilder {
	x := &xmlBuilder{}
	x.b.WriteString("<xml>")
	return x
}

func (x *xmlBuilder) text(name, v string) *xmlBuilder {
	x.b.WriteString("<" + name + ">" + cdata(v) + "</" + name + ">\n")
	return x
}

func (x *xmlBuilder) num(name, v string) *xmlBuilder {
	x.b.WriteString("<" + name + ">" + bare(v) + "</" + name + ">\n")
	return x
}

func (x *xmlBuilder) raw(s string) *xmlBuilder {
	x.b.WriteString(s)
	return x
}

func (x *xmlBuilder) String() string { return x.b.String() + "</xml>" }

// TemplateCardEventXML is the template_card_event a click on an interactive card raises.
// selected carries the answers of vote and multiple-choice cards (nil for buttons).
func TemplateCardEventXML(corpID string, agentID int64, fromUser, taskID, eventKey, responseCode, cardType string, createTime int64, selected []SelectedItem) string {
	x := newXML().text("ToUserName", corpID).text("FromUserName", fromUser).
		num("CreateTime", strconv.FormatInt(createTime, 10)).text("MsgType", "event").
		text("Event", "template_card_event").text("EventKey", eventKey).text("TaskId", taskID).
		text("CardType", cardType).text("ResponseCode", responseCode).
		num("AgentID", strconv.FormatInt(agentID, 10))
	if len(selected) > 0 {
		x.raw("<SelectedItems>\n")
		for _, it := range selected {
			x.raw("<SelectedItem>\n<QuestionKey>" + cdata(it.QuestionKey) + "</QuestionKey>\n<OptionIds>\n")
			for _, id := range it.OptionIDs {
				x.raw("<OptionId>" + cdata(id) + "</OptionId>\n")
			}
			x.raw("</OptionIds>\n</SelectedItem>\n")
		}
		x.raw("</SelectedItems>\n")
	}
	return x.String()
}

// TemplateCardMenuEventXML is the template_card_menu_event a click in a notice card's action_menu
// raises; it has no SelectedItems.
func TemplateCardMenuEventXML(corpID string, agentID int64, fromUser, taskID, eventKey, responseCode, cardType string, createTime int64) string {
	return newXML().text("ToUserName", corpID).text("FromUserName", fromUser).
		num("CreateTime", strconv.FormatInt(createTime, 10)).text("MsgType", "event").
		text("Event", "template_card_menu_event").text("EventKey", eventKey).text("TaskId", taskID).
		text("CardType", cardType).text("ResponseCode", responseCode).
		num("AgentID", strconv.FormatInt(agentID, 10)).String()
}

// TextMessageXML is a text message a member sends to the app.
func TextMessageXML(corpID string, agentID int64, fromUser, content string, msgID int64, createTime int64) string {
	return newXML().text("ToUserName", corpID).text("FromUserName", fromUser).
		num("CreateTime", strconv.FormatInt(createTime, 10)).text("MsgType", "text").
		text("Content", content).num("MsgId", strconv.FormatInt(msgID, 10)).
		num("AgentID", strconv.FormatInt(agentID, 10)).String()
}

// changeContactOrder is the field order of WeCom's change_contact samples; other fields follow
// sorted by name, so the same fields always give the same plaintext (WeCom's retries resend the
// same plaintext, and receivers may deduplicate on its hash).
func changeContactOrder() []string {
	return []string{"UserID", "NewUserID", "OpenUserID", "Name", "Department", "MainDepartment", "IsLeaderInDept",
		"DirectLeader", "Position", "Mobile", "Gender", "Email", "BizMail", "Status", "Avatar", "Alias", "Telephone",
		"Address", "Id", "ParentId", "Order", "TagId", "AddUserItems", "DelUserItems", "AddPartyItems", "DelPartyItems"}
}

// bareContactField lists the change_contact fields WeCom writes without CDATA.
func bareContactField(name string) bool {
	switch name {
	case "MainDepartment", "Gender", "Status", "Id", "Order", "TagId":
		return true
	}
	return false
}

// ChangeContactXML is a change_contact event as sent to the 通讯录同步 URL: changeType is
// create_user, update_user, delete_user, create_party, update_party, delete_party or update_tag,
// and fields the element values (e.g. {"UserID": "zhangsan", "Department": "1,2"}).
func ChangeContactXML(corpID string, changeType string, fields map[string]string, createTime int64) string {
	x := newXML().text("ToUserName", corpID).text("FromUserName", "sys").
		num("CreateTime", strconv.FormatInt(createTime, 10)).text("MsgType", "event").
		text("Event", "change_contact").text("ChangeType", changeType)
	done := map[string]bool{}
	emit := func(k string) {
		if v, ok := fields[k]; ok && !done[k] {
			done[k] = true
			if bareContactField(k) {
				x.num(k, v)
			} else {
				x.text(k, v)
			}
		}
	}
	for _, k := range changeContactOrder() {
		emit(k)
	}
	rest := make([]string, 0, len(fields))
	for k := range fields {
		if !done[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		emit(k)
	}
	return x.String()
}
