package callback

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseEnvelope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		want       Envelope
		wantErr    bool
	}{
		{"V2 body", v2Body, Envelope{ToUserName: vecCorp, AgentID: "218", Encrypt: v2Encrypt}, false},
		{"Encrypt only", "<xml><Encrypt>abc=</Encrypt></xml>", Envelope{Encrypt: "abc="}, false},
		{"no Encrypt", "<xml><ToUserName>x</ToUserName></xml>", Envelope{}, true},
		{"empty Encrypt", "<xml><Encrypt><![CDATA[]]></Encrypt></xml>", Envelope{}, true},
		{"Encrypt twice", "<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>", Envelope{}, true},
		{"Encrypt with children", "<xml><Encrypt><a>b</a></Encrypt></xml>", Envelope{}, true},
		{"truncated", v2Body[:100], Envelope{}, true},
		{"JSON", `{"Encrypt":"abc"}`, Envelope{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseEnvelope([]byte(tt.body))
			if tt.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrBadXML)) || got != tt.want {
				t.Errorf("ParseEnvelope = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		plain string
		want  map[string]any
	}{
		{"V2 text message", v2Plain, map[string]any{
			"ToUserName": "wx5823bf96d3bd56c7", "FromUserName": "mycreate", "CreateTime": "1409659813",
			"MsgType": "text", "Content": "hello", "MsgId": "4561255354251345929", "AgentID": "218",
		}},
		{"template_card_event", string(readTestdata(t, "template_card_event.xml")), map[string]any{
			"ToUserName": "ww4f3ac1e95a2d7c08", "FromUserName": "zhangsan", "CreateTime": "1718000000",
			"MsgType": "event", "Event": "template_card_event", "EventKey": "submit", "TaskId": "wf-exec-42-approve",
			"CardType": "multiple_interaction", "ResponseCode": "TXIWY7OsJpKEDAP3JjEAyXnmYwR3sBgWDhfbV9OIyGc",
			"AgentID": "1000002",
			"SelectedItems": map[string]any{"SelectedItem": []any{
				map[string]any{"QuestionKey": "budget", "OptionIds": map[string]any{"OptionId": []any{"travel", "hotel"}}},
				map[string]any{"QuestionKey": "approver", "OptionIds": map[string]any{"OptionId": []any{"lisi", "wangwu"}}},
			}},
		}},
		{"change_contact create_user", string(readTestdata(t, "change_contact_create_user.xml")), map[string]any{
			"ToUserName": "ww4f3ac1e95a2d7c08", "FromUserName": "sys", "CreateTime": "1718000100",
			"MsgType": "event", "Event": "change_contact", "ChangeType": "create_user", "UserID": "zhangsan",
			"Name": "张三", "Department": "1,2", "MainDepartment": "1", "IsLeaderInDept": "1,0",
			"Position": "产品经理", "Status": "1",
			"ExtAttr": map[string]any{"Item": []any{
				map[string]any{"Name": "爱好", "Type": "0", "Text": map[string]any{"Value": "旅游"}},
				map[string]any{"Name": "主页", "Type": "1", "Web": map[string]any{
					"Title": "企业微信", "Url": "https://work.weixin.qq.com"}},
			}},
		}},
		{"one SelectedItem is not a list", "<xml><SelectedItems><SelectedItem><QuestionKey>q</QuestionKey>" +
			"</SelectedItem></SelectedItems></xml>", map[string]any{
			"SelectedItems": map[string]any{"SelectedItem": map[string]any{"QuestionKey": "q"}},
		}},
		{"text trimmed, CDATA exact", "<xml>\n<CreateTime>\n 12 </CreateTime><Content> <![CDATA[ hi\n]]> </Content></xml>",
			map[string]any{"CreateTime": "12", "Content": " hi\n"}},
		{"predefined entities, empty elements, attributes ignored",
			`<?xml version="1.0"?><xml><!-- c --><Name a="1">A&amp;B&lt;</Name><Empty/><Blank></Blank></xml>`,
			map[string]any{"Name": "A&B<", "Empty": "", "Blank": ""}},
		{"empty root", "<xml/>", map[string]any{}},
		{"depth 16", nested(16), map[string]any{"e": nestedValue(14)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMessage([]byte(tt.plain))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseMessage = %#v, %v\nwant %#v", got, err, tt.want)
			}
		})
	}
}

// nested is an <xml> root with depth-1 <e> elements nested inside it.
func nested(depth int) string {
	return "<xml>" + strings.Repeat("<e>", depth-1) + "x" + strings.Repeat("</e>", depth-1) + "</xml>"
}

// nestedValue is what ParseMessage makes of depth more <e> levels around "x".
func nestedValue(depth int) any {
	if depth == 0 {
		return "x"
	}
	return map[string]any{"e": nestedValue(depth - 1)}
}

func TestParseMessageRejectsHostileInput(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, plain string }{
		{"empty", ""},
		{"whitespace", " \n"},
		{"DOCTYPE", `<!DOCTYPE xml [<!ENTITY x "boom">]><xml><Content>&x;</Content></xml>`},
		{"external entity", `<!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml/>`},
		{"undefined entity", "<xml><Content>&x;</Content></xml>"},
		{"depth bomb", nested(17)},
		{"deep depth bomb", nested(100_000)},
		{"too many elements", "<xml>" + strings.Repeat("<a/>", maxElements) + "</xml>"},
		{"unclosed", "<xml><Content>hi</Content>"},
		{"mismatched tags", "<xml><Content>hi</MsgType></xml>"},
		{"two roots", "<xml/><xml/>"},
		{"root not xml", "<message><Content>hi</Content></message>"},
		{"text outside the root", "<xml/>junk"},
		{"not XML", "1616140317555161061"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := ParseMessage([]byte(tt.plain)); !errors.Is(err, ErrBadXML) || got != nil {
				t.Errorf("ParseMessage = %v, %v; want ErrBadXML", got, err)
			}
		})
	}
	if _, err := ParseMessage([]byte("<xml>" + strings.Repeat("<a/>", maxElements-1) + "</xml>")); err != nil {
		t.Errorf("ParseMessage of %d elements: %v", maxElements, err)
	}
}
