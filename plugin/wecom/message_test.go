package wecom

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// Valid messages of every msgtype and card type, as a user writes them; each is also exactly what
// WeCom must receive (the media-source case is separate).
var validMessages = map[string]string{
	"text":     `{"msgtype":"text","text":{"content":"你的快递已到，请携带工卡前往邮件中心领取。"}}`,
	"image":    `{"msgtype":"image","image":{"media_id":"MEDIA_ID"}}`,
	"voice":    `{"msgtype":"voice","voice":{"media_id":"MEDIA_ID"}}`,
	"video":    `{"msgtype":"video","video":{"media_id":"MEDIA_ID","title":"Title","description":"Description"}}`,
	"file":     `{"msgtype":"file","file":{"media_id":"1Yv-zXfHjSjU-7LH-GwtYqDGS-zz6w22KmWAT5COgP7o"}}`,
	"textcard": `{"msgtype":"textcard","textcard":{"title":"领奖通知","description":"<div class=\"gray\">2016年9月26日</div> <div class=\"highlight\">请于2016年10月10日前联系行政同事领取</div>","url":"https://work.weixin.qq.com/","btntxt":"更多"}}`,
	"news": `{"msgtype":"news","news":{"articles":[
		{"title":"中秋节礼品领取","description":"今年中秋节公司有豪礼相送","url":"https://work.weixin.qq.com/","picurl":"https://res.mail.qq.com/node/ww/wwopenmng/images/independent/doc/test_pic_msg1.png"},
		{"title":"小程序","appid":"wx123123123123123","pagepath":"pages/index?userid=zhangsan&orderid=123123123"}]}}`,
	"mpnews": `{"msgtype":"mpnews","mpnews":{"articles":[{"title":"Title","thumb_media_id":"MEDIA_ID","author":"Author",
		"content_source_url":"https://work.weixin.qq.com","content":"<p>Content</p>","digest":"Digest description"}]}}`,
	"markdown": "{\"msgtype\":\"markdown\",\"markdown\":{\"content\":\"您的会议室已经预定\\n>**事项详情**\\n>事　项：<font color=\\\"info\\\">开会</font>\\n>`code`\"}}",
	"miniprogram_notice": `{"msgtype":"miniprogram_notice","miniprogram_notice":{"appid":"wx123123123123123","page":"pages/index?userid=zhangsan",
		"title":"会议室预订成功通知","description":"4月27日 16:16","emphasis_first_item":false,
		"content_item":[{"key":"会议室","value":"402"},{"key":"会议地点","value":"广州TIT-402会议室"}]}}`,
	"text_notice": `{"msgtype":"template_card","template_card":{"card_type":"text_notice",
		"source":{"icon_url":"https://wework.qpic.cn/wwpic/252813_jOfDHtcISzuodLa_1629280209/0","desc":"企业微信","desc_color":0},
		"action_menu":{"desc":"消息气泡副交互辅助文本说明","action_list":[{"text":"接收推送","key":"action_key1"},{"text":"不再推送","key":"action_key2"}]},
		"task_id":"task_id-1@acme",
		"main_title":{"title":"欢迎使用企业微信","desc":"您的好友正在邀请您加入企业微信"},
		"quote_area":{"type":1,"url":"https://work.weixin.qq.com","title":"企业微信的引用样式","quote_text":"企业微信真好用呀真好用"},
		"emphasis_content":{"title":"100","desc":"核心数据"},
		"sub_title_text":"下载企业微信还能抢红包！",
		"horizontal_content_list":[{"keyname":"邀请人","value":"张三"},{"type":1,"keyname":"企业微信官网","value":"点击访问","url":"https://work.weixin.qq.com"},
			{"type":2,"keyname":"企业微信下载","value":"企业微信.apk","media_id":"MEDIA_ID"},{"type":3,"keyname":"员工信息","value":"点击查看","userid":"zhangsan"}],
		"jump_list":[{"type":1,"title":"企业微信官网","url":"https://work.weixin.qq.com"},{"type":2,"title":"跳转小程序","appid":"wx123","pagepath":"/index.html"}],
		"card_action":{"type":1,"url":"https://work.weixin.qq.com","appid":"APPID","pagepath":"PAGEPATH"}}}`,
	"news_notice": `{"msgtype":"template_card","template_card":{"card_type":"news_notice",
		"source":{"icon_url":"https://wework.qpic.cn/wwpic/1.png","desc":"企业微信","desc_color":1},
		"main_title":{"title":"欢迎使用企业微信","desc":"您的好友正在邀请您加入企业微信"},
		"quote_area":{"type":2,"appid":"APPID","pagepath":"PAGEPATH","title":"引用","quote_text":"引用文本"},
		"card_image":{"url":"https://wework.qpic.cn/wwpic/354393_4zpkKXd7SrGMvfg_1629280616/0","aspect_ratio":2.25},
		"vertical_content_list":[{"title":"惊喜红包等你来拿","desc":"下载企业微信还能抢红包！"}],
		"horizontal_content_list":[{"keyname":"邀请人","value":"张三"}],
		"jump_list":[{"type":1,"title":"企业微信官网","url":"https://work.weixin.qq.com"}],
		"card_action":{"type":2,"appid":"APPID","pagepath":"PAGEPATH"}}}`,
	"news_notice image_text_area": `{"msgtype":"template_card","template_card":{"card_type":"news_notice",
		"main_title":{"title":"欢迎使用企业微信"},
		"image_text_area":{"type":1,"url":"https://work.weixin.qq.com","title":"企业微信的左图右文样式","desc":"企业微信真好用呀真好用","image_url":"https://img.iplaysoft.com/wp-content/uploads/2019/free-images/free_stock_photo_2x.jpg"},
		"card_action":{"type":1,"url":"https://work.weixin.qq.com"}}}`,
	"button_interaction": `{"msgtype":"template_card","template_card":{"card_type":"button_interaction",
		"source":{"desc":"审批"},
		"main_title":{"title":"Approve order 42?"},
		"sub_title_text":"金额 ¥1,200",
		"task_id":"order-42",
		"card_action":{"type":0},
		"button_selection":{"question_key":"btn_question_key1","title":"您的身份","selected_id":"btn_selection_id1",
			"option_list":[{"id":"btn_selection_id1","text":"100分"},{"id":"btn_selection_id2","text":"101分"}]},
		"button_list":[{"text":"Approve","style":1,"key":"approve"},{"text":"Reject","style":2,"key":"reject"},
			{"text":"Details","style":4,"type":1,"url":"https://oa.acme.cn/orders/42"},{"text":"Later","type":0,"key":"later"}]}}`,
	"vote_interaction": `{"msgtype":"template_card","template_card":{"card_type":"vote_interaction",
		"source":{"icon_url":"https://wework.qpic.cn/wwpic/1.png","desc":"企业微信"},
		"main_title":{"title":"欢迎使用企业微信","desc":"您的好友正在邀请您加入企业微信"},
		"task_id":"vote_1",
		"checkbox":{"question_key":"question_key1","option_list":[{"id":"option_id1","text":"选择题选项1","is_checked":true},{"id":"option_id2","text":"选择题选项2","is_checked":false}],"mode":1},
		"submit_button":{"text":"提交","key":"key"}}}`,
	"multiple_interaction": `{"msgtype":"template_card","template_card":{"card_type":"multiple_interaction",
		"main_title":{"title":"欢迎使用企业微信"},
		"task_id":"multi@1",
		"select_list":[
			{"question_key":"question_key1","title":"选择标签1","selected_id":"selection_id1","option_list":[{"id":"selection_id1","text":"选择器选项1"},{"id":"selection_id2","text":"选择器选项2"}]},
			{"question_key":"question_key2","title":"选择标签2","option_list":[{"id":"selection_id3","text":"选择器选项3"}]}],
		"submit_button":{"text":"提交","key":"key"}}}`,
}

// canonical re-encodes JSON with sorted keys and no spacing, so equal documents compare equal.
func canonical(t *testing.T, s []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(s, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", s, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func mustDecode(t *testing.T, s string) *Message {
	t.Helper()
	m, errs := DecodeMessage([]byte(s))
	if errs != nil {
		t.Fatalf("DecodeMessage: %v", errs)
	}
	return m
}

func TestMessageRoundTrip(t *testing.T) {
	t.Parallel()
	for name, in := range validMessages {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := mustDecode(t, in)
			warnings, errs := m.Validate(ValidateOptions{})
			if errs != nil || warnings != nil {
				t.Fatalf("Validate: warnings %q, errors %v", warnings, errs)
			}
			body, err := m.WeComBody()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := canonical(t, body), canonical(t, []byte(in)); got != want {
				t.Errorf("WeCom JSON\n got %s\nwant %s", got, want)
			}
			inner, err := m.Body()
			if err != nil {
				t.Fatal(err)
			}
			var whole map[string]json.RawMessage
			_ = json.Unmarshal([]byte(in), &whole)
			if got, want := canonical(t, inner), canonical(t, whole[m.MsgType]); got != want {
				t.Errorf("Body\n got %s\nwant %s", got, want)
			}
			again, _ := json.Marshal(m)
			if got, want := canonical(t, again), canonical(t, []byte(in)); got != want {
				t.Errorf("json.Marshal\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestValidExamplesCoverEveryType(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, in := range validMessages {
		m := mustDecode(t, in)
		seen[m.MsgType] = true
		if m.TemplateCard != nil {
			seen[m.TemplateCard.CardType] = true
		}
	}
	for _, typ := range append(MsgTypes(), CardTypes()...) {
		if !seen[typ] {
			t.Errorf("no valid example of %s", typ)
		}
	}
}

func TestMediaSource(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"msgtype":"image","image":{"media":{"url":"https://example.com/a.png"}}}`,
		`{"msgtype":"video","video":{"media":{"id":"01JUPLOAD"},"title":"Demo"}}`,
	} {
		m := mustDecode(t, in)
		if _, errs := m.Validate(ValidateOptions{}); errs != nil {
			t.Fatalf("Validate %s: %v", in, errs)
		}
		again, _ := json.Marshal(m)
		if canonical(t, again) != canonical(t, []byte(in)) {
			t.Errorf("our form does not round-trip: %s", again)
		}
		if _, err := m.Body(); err == nil || !strings.Contains(err.Error(), m.MsgType+".media_id is not set") {
			t.Errorf("Body before the upload: %v", err)
		}
		m.Attachment().MediaID = "MEDIA_ID" // what the sender does after uploading
		body, err := m.WeComBody()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(body), `"media"`) || !strings.Contains(string(body), `"media_id":"MEDIA_ID"`) {
			t.Errorf("WeCom body %s must have media_id and no media", body)
		}
	}
}

func TestAttachment(t *testing.T) {
	t.Parallel()
	for name, in := range validMessages {
		m := mustDecode(t, in)
		isMedia := slices.Contains([]string{MsgImage, MsgVoice, MsgVideo, MsgFile}, m.MsgType)
		if a := m.Attachment(); (a != nil) != isMedia || (isMedia && a.MediaID == "") {
			t.Errorf("%s: Attachment() = %+v", name, a)
		}
	}
}

// del in a patch removes the key.
type deleteKey struct{}

var del deleteKey

// patched is a valid example with values set (or deleted) at JSON paths like "news.articles[1].url".
func patched(t *testing.T, base string, set map[string]any) string {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal([]byte(validMessages[base]), &root); err != nil {
		t.Fatal(base, err)
	}
	// Shorter paths first: a patch may replace a list whose items later patches change.
	paths := slices.SortedFunc(maps.Keys(set), func(a, b string) int { return cmp.Or(len(a)-len(b), strings.Compare(a, b)) })
	for _, path := range paths {
		val := set[path]
		parent, key := locate(t, root, path)
		if val == del {
			delete(parent, key)
		} else {
			parent[key] = val
		}
	}
	out, _ := json.Marshal(root)
	return string(out)
}

var segmentRe = regexp.MustCompile(`^([a-z_]+)((?:\[\d+\])*)$`)

// locate walks a JSON path through generic JSON and returns the object holding its last key.
func locate(t *testing.T, root map[string]any, path string) (map[string]any, string) {
	t.Helper()
	parts := strings.Split(path, ".")
	cur := any(root)
	for i, part := range parts {
		m := segmentRe.FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("bad path %s", path)
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object before %s", path, part)
		}
		if i == len(parts)-1 && m[2] == "" {
			return obj, m[1]
		}
		cur = obj[m[1]]
		for _, idx := range regexp.MustCompile(`\d+`).FindAllString(m[2], -1) {
			n, _ := strconv.Atoi(idx)
			cur = cur.([]any)[n]
		}
	}
	t.Fatalf("path %s ends in a list element", path)
	return nil, ""
}

// list is n copies of item, for list-size rules.
func list(n int, item func(i int) any) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = item(i)
	}
	return out
}

func article(int) any  { return map[string]any{"title": "t", "url": "https://example.com"} }
func option(i int) any { return map[string]any{"id": fmt.Sprint("o", i), "text": "x"} }
func button(i int) any { return map[string]any{"text": "b", "key": fmt.Sprint("k", i)} }

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return "https://example.com/" + strings.Repeat("a", n-len("https://example.com/")) }
	cases := []struct {
		name, base string
		set        map[string]any
		opts       ValidateOptions
		path, msg  string
	}{
		// the message envelope
		{"msgtype missing", "text", map[string]any{"msgtype": del}, ValidateOptions{}, "msgtype", "is required"},
		{"msgtype unknown", "text", map[string]any{"msgtype": "sms"}, ValidateOptions{}, "msgtype", "must be one of text, image"},
		{"body missing", "text", map[string]any{"msgtype": "markdown"}, ValidateOptions{}, "markdown", "is required when msgtype is markdown"},
		{"extra body", "text", map[string]any{"markdown": map[string]any{"content": "x"}}, ValidateOptions{}, "markdown", "is not allowed with msgtype text"},
		{"template_card to linked corp", "text_notice", nil, ValidateOptions{LinkedCorp: true}, "msgtype", "connected enterprises"},
		{"miniprogram_notice to @all", "miniprogram_notice", nil, ValidateOptions{ToAll: true}, "msgtype", "@all"},
		// text, markdown, media
		{"text content", "text", map[string]any{"text.content": ""}, ValidateOptions{}, "text.content", "is required"},
		{"markdown content", "markdown", map[string]any{"markdown.content": del}, ValidateOptions{}, "markdown.content", "is required"},
		{"image without media", "image", map[string]any{"image.media_id": del}, ValidateOptions{}, "image.media_id", "is required"},
		{"video without media", "video", map[string]any{"video.media_id": del}, ValidateOptions{}, "video.media_id", "is required"},
		{"media_id and media", "file", map[string]any{"file.media": map[string]any{"id": "x"}}, ValidateOptions{}, "file.media", "together with media_id"},
		{"media url and id", "voice", map[string]any{"voice.media_id": del, "voice.media": map[string]any{"id": "x", "url": "https://a.cn/x.amr"}}, ValidateOptions{}, "voice.media.id", "together with url"},
		{"media empty", "voice", map[string]any{"voice.media_id": del, "voice.media": map[string]any{}}, ValidateOptions{}, "voice.media.url", "is required"},
		{"media url not http", "image", map[string]any{"image.media_id": del, "image.media": map[string]any{"url": "ftp://a.cn/x.png"}}, ValidateOptions{}, "image.media.url", "http(s)"},
		// textcard
		{"textcard title", "textcard", map[string]any{"textcard.title": del}, ValidateOptions{}, "textcard.title", "is required"},
		{"textcard description", "textcard", map[string]any{"textcard.description": ""}, ValidateOptions{}, "textcard.description", "is required"},
		{"textcard url", "textcard", map[string]any{"textcard.url": del}, ValidateOptions{}, "textcard.url", "is required"},
		{"textcard url relative", "textcard", map[string]any{"textcard.url": "/orders/1"}, ValidateOptions{}, "textcard.url", "absolute http(s) URL"},
		{"textcard url javascript", "textcard", map[string]any{"textcard.url": "javascript:alert(1)"}, ValidateOptions{}, "textcard.url", "absolute http(s) URL"},
		{"textcard url too long", "textcard", map[string]any{"textcard.url": long(2049)}, ValidateOptions{}, "textcard.url", "at most 2048 bytes"},
		{"btntxt", "textcard", map[string]any{"textcard.btntxt": "查看详情啊"}, ValidateOptions{}, "textcard.btntxt", "at most 4 characters"},
		// news and mpnews
		{"news no articles", "news", map[string]any{"news.articles": []any{}}, ValidateOptions{}, "news.articles", "between 1 and 8 items"},
		{"news 9 articles", "news", map[string]any{"news.articles": list(9, article)}, ValidateOptions{}, "news.articles", "between 1 and 8 items"},
		{"news url", "news", map[string]any{"news.articles": list(3, article), "news.articles[2].url": "example.com"}, ValidateOptions{}, "news.articles[2].url", "absolute http(s) URL"},
		{"news picurl", "news", map[string]any{"news.articles[0].picurl": "pic.png"}, ValidateOptions{}, "news.articles[0].picurl", "absolute http(s) URL"},
		{"news title", "news", map[string]any{"news.articles[1].title": del}, ValidateOptions{}, "news.articles[1].title", "is required"},
		{"news url or appid", "news", map[string]any{"news.articles[0].url": del}, ValidateOptions{}, "news.articles[0].url", "is required (or appid"},
		{"news pagepath without appid", "news", map[string]any{"news.articles[0].pagepath": "pages/index"}, ValidateOptions{}, "news.articles[0].appid", "is required"},
		{"mpnews no articles", "mpnews", map[string]any{"mpnews.articles": del}, ValidateOptions{}, "mpnews.articles", "between 1 and 8 items"},
		{"mpnews title", "mpnews", map[string]any{"mpnews.articles[0].title": del}, ValidateOptions{}, "mpnews.articles[0].title", "is required"},
		{"mpnews thumb_media_id", "mpnews", map[string]any{"mpnews.articles[0].thumb_media_id": del}, ValidateOptions{}, "mpnews.articles[0].thumb_media_id", "is required"},
		{"mpnews content", "mpnews", map[string]any{"mpnews.articles[0].content": del}, ValidateOptions{}, "mpnews.articles[0].content", "is required"},
		{"mpnews content too big", "mpnews", map[string]any{"mpnews.articles[0].content": strings.Repeat("中", 666*1024/3+1)}, ValidateOptions{}, "mpnews.articles[0].content", "at most 681984 bytes"},
		{"mpnews content_source_url", "mpnews", map[string]any{"mpnews.articles[0].content_source_url": "www.example.com"}, ValidateOptions{}, "mpnews.articles[0].content_source_url", "http(s)"},
		// miniprogram_notice
		{"miniprogram appid", "miniprogram_notice", map[string]any{"miniprogram_notice.appid": del}, ValidateOptions{}, "miniprogram_notice.appid", "is required"},
		{"miniprogram title missing", "miniprogram_notice", map[string]any{"miniprogram_notice.title": del}, ValidateOptions{}, "miniprogram_notice.title", "is required"},
		{"miniprogram title short", "miniprogram_notice", map[string]any{"miniprogram_notice.title": "预订成功"[:9]}, ValidateOptions{}, "miniprogram_notice.title", "between 4 and 12 characters"},
		{"miniprogram title long", "miniprogram_notice", map[string]any{"miniprogram_notice.title": strings.Repeat("会", 13)}, ValidateOptions{}, "miniprogram_notice.title", "between 4 and 12 characters"},
		{"content_item 11", "miniprogram_notice", map[string]any{"miniprogram_notice.content_item": list(11, func(int) any { return map[string]any{"key": "k", "value": "v"} })}, ValidateOptions{}, "miniprogram_notice.content_item", "at most 10 items"},
		{"content_item key", "miniprogram_notice", map[string]any{"miniprogram_notice.content_item[1].key": strings.Repeat("键", 11)}, ValidateOptions{}, "miniprogram_notice.content_item[1].key", "at most 10 characters"},
		{"content_item value", "miniprogram_notice", map[string]any{"miniprogram_notice.content_item[0].value": strings.Repeat("值", 31)}, ValidateOptions{}, "miniprogram_notice.content_item[0].value", "at most 30 characters"},
		{"content_item value missing", "miniprogram_notice", map[string]any{"miniprogram_notice.content_item[0].value": del}, ValidateOptions{}, "miniprogram_notice.content_item[0].value", "is required"},
		// template_card: common parts
		{"card_type missing", "text_notice", map[string]any{"template_card.card_type": del}, ValidateOptions{}, "template_card.card_type", "is required"},
		{"card_type unknown", "text_notice", map[string]any{"template_card.card_type": "markdown_notice"}, ValidateOptions{}, "template_card.card_type", "must be one of text_notice, news_notice"},
		{"action_menu needs task_id", "text_notice", map[string]any{"template_card.task_id": del}, ValidateOptions{}, "template_card.task_id", "is required for interactive cards"},
		{"task_id charset", "text_notice", map[string]any{"template_card.task_id": "task 1"}, ValidateOptions{}, "template_card.task_id", "letters, digits"},
		{"task_id non-ASCII", "text_notice", map[string]any{"template_card.task_id": "任务"}, ValidateOptions{}, "template_card.task_id", "letters, digits"},
		{"task_id too long", "text_notice", map[string]any{"template_card.task_id": strings.Repeat("t", 129)}, ValidateOptions{}, "template_card.task_id", "at most 128 bytes"},
		{"desc_color", "text_notice", map[string]any{"template_card.source.desc_color": 4}, ValidateOptions{}, "template_card.source.desc_color", "between 0 and 3"},
		{"icon_url", "text_notice", map[string]any{"template_card.source.icon_url": "icon.png"}, ValidateOptions{}, "template_card.source.icon_url", "http(s)"},
		{"action_list empty", "text_notice", map[string]any{"template_card.action_menu.action_list": []any{}}, ValidateOptions{}, "template_card.action_menu.action_list", "between 1 and 3 items"},
		{"action_list 4", "text_notice", map[string]any{"template_card.action_menu.action_list": list(4, button)}, ValidateOptions{}, "template_card.action_menu.action_list", "between 1 and 3 items"},
		{"action key", "text_notice", map[string]any{"template_card.action_menu.action_list[1].key": del}, ValidateOptions{}, "template_card.action_menu.action_list[1].key", "is required"},
		{"action text", "text_notice", map[string]any{"template_card.action_menu.action_list[0].text": ""}, ValidateOptions{}, "template_card.action_menu.action_list[0].text", "is required"},
		{"quote_area type 1 url", "text_notice", map[string]any{"template_card.quote_area.url": del}, ValidateOptions{}, "template_card.quote_area.url", "is required"},
		{"quote_area type 2 appid", "news_notice", map[string]any{"template_card.quote_area.appid": del}, ValidateOptions{}, "template_card.quote_area.appid", "is required"},
		{"quote_area type", "news_notice", map[string]any{"template_card.quote_area.type": 3}, ValidateOptions{}, "template_card.quote_area.type", "between 0 and 2"},
		{"horizontal 7", "text_notice", map[string]any{"template_card.horizontal_content_list": list(7, func(int) any { return map[string]any{"keyname": "k"} })}, ValidateOptions{}, "template_card.horizontal_content_list", "at most 6 items"},
		{"horizontal keyname", "text_notice", map[string]any{"template_card.horizontal_content_list[0].keyname": del}, ValidateOptions{}, "template_card.horizontal_content_list[0].keyname", "is required"},
		{"horizontal type", "text_notice", map[string]any{"template_card.horizontal_content_list[0].type": 4}, ValidateOptions{}, "template_card.horizontal_content_list[0].type", "between 0 and 3"},
		{"horizontal type 1 url", "text_notice", map[string]any{"template_card.horizontal_content_list[1].url": del}, ValidateOptions{}, "template_card.horizontal_content_list[1].url", "is required"},
		{"horizontal type 2 media_id", "text_notice", map[string]any{"template_card.horizontal_content_list[2].media_id": del}, ValidateOptions{}, "template_card.horizontal_content_list[2].media_id", "is required"},
		{"horizontal type 3 userid", "text_notice", map[string]any{"template_card.horizontal_content_list[3].userid": del}, ValidateOptions{}, "template_card.horizontal_content_list[3].userid", "is required"},
		{"horizontal url", "text_notice", map[string]any{"template_card.horizontal_content_list[1].url": "work.weixin.qq.com"}, ValidateOptions{}, "template_card.horizontal_content_list[1].url", "http(s)"},
		{"jump 4", "text_notice", map[string]any{"template_card.jump_list": list(4, func(int) any { return map[string]any{"title": "t"} })}, ValidateOptions{}, "template_card.jump_list", "at most 3 items"},
		{"jump title", "text_notice", map[string]any{"template_card.jump_list[1].title": del}, ValidateOptions{}, "template_card.jump_list[1].title", "is required"},
		{"jump type 1 url", "text_notice", map[string]any{"template_card.jump_list[0].url": del}, ValidateOptions{}, "template_card.jump_list[0].url", "is required"},
		{"jump type 2 appid", "text_notice", map[string]any{"template_card.jump_list[1].appid": del}, ValidateOptions{}, "template_card.jump_list[1].appid", "is required"},
		{"jump type", "text_notice", map[string]any{"template_card.jump_list[1].type": 5}, ValidateOptions{}, "template_card.jump_list[1].type", "between 0 and 2"},
		{"jump url", "text_notice", map[string]any{"template_card.jump_list[0].url": "https://"}, ValidateOptions{}, "template_card.jump_list[0].url", "http(s)"},
		// text_notice
		{"text_notice card_action", "text_notice", map[string]any{"template_card.card_action": del}, ValidateOptions{}, "template_card.card_action", "is required"},
		{"text_notice card_action type missing", "text_notice", map[string]any{"template_card.card_action.type": del}, ValidateOptions{}, "template_card.card_action.type", "is required"},
		{"text_notice card_action type 0", "text_notice", map[string]any{"template_card.card_action.type": 0}, ValidateOptions{}, "template_card.card_action.type", "between 1 and 2"},
		{"text_notice card_action type 3", "text_notice", map[string]any{"template_card.card_action.type": 3}, ValidateOptions{}, "template_card.card_action.type", "between 1 and 2"},
		{"card_action type 1 url", "text_notice", map[string]any{"template_card.card_action.url": del}, ValidateOptions{}, "template_card.card_action.url", "is required"},
		{"card_action type 2 appid", "news_notice", map[string]any{"template_card.card_action.appid": del}, ValidateOptions{}, "template_card.card_action.appid", "is required"},
		{"card_action url", "text_notice", map[string]any{"template_card.card_action.url": "mailto:a@b.cn"}, ValidateOptions{}, "template_card.card_action.url", "http(s)"},
		{"text_notice title or sub_title_text", "text_notice", map[string]any{"template_card.main_title": del, "template_card.sub_title_text": del}, ValidateOptions{}, "template_card.main_title.title", "when sub_title_text is empty"},
		// news_notice
		{"news_notice title", "news_notice", map[string]any{"template_card.main_title.title": del}, ValidateOptions{}, "template_card.main_title.title", "is required"},
		{"news_notice no image", "news_notice", map[string]any{"template_card.card_image": del}, ValidateOptions{}, "template_card.card_image", "or image_text_area"},
		{"news_notice both images", "news_notice", map[string]any{"template_card.image_text_area": map[string]any{"image_url": "https://a.cn/i.png"}}, ValidateOptions{}, "template_card.image_text_area", "together with card_image"},
		{"card_image url", "news_notice", map[string]any{"template_card.card_image.url": del}, ValidateOptions{}, "template_card.card_image.url", "is required"},
		{"card_image aspect_ratio", "news_notice", map[string]any{"template_card.card_image.aspect_ratio": 3}, ValidateOptions{}, "template_card.card_image.aspect_ratio", "between 1.3 and 2.25"},
		{"image_text_area image_url", "news_notice image_text_area", map[string]any{"template_card.image_text_area.image_url": del}, ValidateOptions{}, "template_card.image_text_area.image_url", "is required"},
		{"image_text_area type 1 url", "news_notice image_text_area", map[string]any{"template_card.image_text_area.url": del}, ValidateOptions{}, "template_card.image_text_area.url", "is required"},
		{"vertical 5", "news_notice", map[string]any{"template_card.vertical_content_list": list(5, func(int) any { return map[string]any{"title": "t"} })}, ValidateOptions{}, "template_card.vertical_content_list", "at most 4 items"},
		{"vertical title", "news_notice", map[string]any{"template_card.vertical_content_list[0].title": del}, ValidateOptions{}, "template_card.vertical_content_list[0].title", "is required"},
		{"news_notice card_action", "news_notice", map[string]any{"template_card.card_action": del}, ValidateOptions{}, "template_card.card_action", "is required"},
		// button_interaction
		{"button task_id", "button_interaction", map[string]any{"template_card.task_id": del}, ValidateOptions{}, "template_card.task_id", "is required for interactive cards"},
		{"button title", "button_interaction", map[string]any{"template_card.main_title": del}, ValidateOptions{}, "template_card.main_title.title", "is required"},
		{"button_list empty", "button_interaction", map[string]any{"template_card.button_list": del}, ValidateOptions{}, "template_card.button_list", "between 1 and 6 items"},
		{"button_list 7", "button_interaction", map[string]any{"template_card.button_list": list(7, button)}, ValidateOptions{}, "template_card.button_list", "at most 6 items"},
		{"button style 0", "button_interaction", map[string]any{"template_card.button_list[0].style": 0}, ValidateOptions{}, "template_card.button_list[0].style", "between 1 and 4"},
		{"button style 5", "button_interaction", map[string]any{"template_card.button_list[1].style": 5}, ValidateOptions{}, "template_card.button_list[1].style", "between 1 and 4"},
		{"button text", "button_interaction", map[string]any{"template_card.button_list[0].text": del}, ValidateOptions{}, "template_card.button_list[0].text", "is required"},
		{"button text long", "button_interaction", map[string]any{"template_card.button_list[1].text": "不同意这个订单的付款申请"}, ValidateOptions{}, "template_card.button_list[1].text", "at most 10 characters"},
		{"button key", "button_interaction", map[string]any{"template_card.button_list[0].key": del}, ValidateOptions{}, "template_card.button_list[0].key", "is required"},
		{"button type 0 key", "button_interaction", map[string]any{"template_card.button_list[3].key": del}, ValidateOptions{}, "template_card.button_list[3].key", "is required"},
		{"button type", "button_interaction", map[string]any{"template_card.button_list[3].type": 2}, ValidateOptions{}, "template_card.button_list[3].type", "between 0 and 1"},
		{"button type 1 url", "button_interaction", map[string]any{"template_card.button_list[2].url": del}, ValidateOptions{}, "template_card.button_list[2].url", "is required"},
		{"button url", "button_interaction", map[string]any{"template_card.button_list[2].url": "oa.acme.cn"}, ValidateOptions{}, "template_card.button_list[2].url", "http(s)"},
		{"button_selection question_key", "button_interaction", map[string]any{"template_card.button_selection.question_key": del}, ValidateOptions{}, "template_card.button_selection.question_key", "is required"},
		{"button_selection 11 options", "button_interaction", map[string]any{"template_card.button_selection.option_list": list(11, option), "template_card.button_selection.selected_id": "o1"}, ValidateOptions{}, "template_card.button_selection.option_list", "between 1 and 10 items"},
		{"button_selection selected_id", "button_interaction", map[string]any{"template_card.button_selection.selected_id": "nope"}, ValidateOptions{}, "template_card.button_selection.selected_id", "one of option_list"},
		{"button_selection duplicate id", "button_interaction", map[string]any{"template_card.button_selection.option_list[1].id": "btn_selection_id1"}, ValidateOptions{}, "template_card.button_selection.option_list[1].id", "duplicates the one at index 0"},
		// vote_interaction
		{"vote task_id", "vote_interaction", map[string]any{"template_card.task_id": del}, ValidateOptions{}, "template_card.task_id", "is required"},
		{"vote checkbox", "vote_interaction", map[string]any{"template_card.checkbox": del}, ValidateOptions{}, "template_card.checkbox", "is required"},
		{"vote question_key", "vote_interaction", map[string]any{"template_card.checkbox.question_key": del}, ValidateOptions{}, "template_card.checkbox.question_key", "is required"},
		{"vote no options", "vote_interaction", map[string]any{"template_card.checkbox.option_list": []any{}}, ValidateOptions{}, "template_card.checkbox.option_list", "between 1 and 20 items"},
		{"vote 21 options", "vote_interaction", map[string]any{"template_card.checkbox.option_list": list(21, option)}, ValidateOptions{}, "template_card.checkbox.option_list", "between 1 and 20 items"},
		{"vote option id", "vote_interaction", map[string]any{"template_card.checkbox.option_list[1].id": del}, ValidateOptions{}, "template_card.checkbox.option_list[1].id", "is required"},
		{"vote option text", "vote_interaction", map[string]any{"template_card.checkbox.option_list[0].text": del}, ValidateOptions{}, "template_card.checkbox.option_list[0].text", "is required"},
		{"vote mode", "vote_interaction", map[string]any{"template_card.checkbox.mode": 2}, ValidateOptions{}, "template_card.checkbox.mode", "between 0 and 1"},
		{"vote single choice checked twice", "vote_interaction", map[string]any{"template_card.checkbox.mode": 0, "template_card.checkbox.option_list[1].is_checked": true}, ValidateOptions{}, "template_card.checkbox.option_list[1].is_checked", "only one option"},
		{"vote submit_button", "vote_interaction", map[string]any{"template_card.submit_button": del}, ValidateOptions{}, "template_card.submit_button", "is required"},
		{"vote submit key", "vote_interaction", map[string]any{"template_card.submit_button.key": del}, ValidateOptions{}, "template_card.submit_button.key", "is required"},
		// multiple_interaction
		{"multiple task_id", "multiple_interaction", map[string]any{"template_card.task_id": del}, ValidateOptions{}, "template_card.task_id", "is required"},
		{"select_list empty", "multiple_interaction", map[string]any{"template_card.select_list": del}, ValidateOptions{}, "template_card.select_list", "between 1 and 3 items"},
		{"select_list 4", "multiple_interaction", map[string]any{"template_card.select_list": list(4, func(i int) any {
			return map[string]any{"question_key": fmt.Sprint("q", i), "option_list": list(1, option)}
		})}, ValidateOptions{}, "template_card.select_list", "at most 3 items"},
		{"select question_key", "multiple_interaction", map[string]any{"template_card.select_list[1].question_key": del}, ValidateOptions{}, "template_card.select_list[1].question_key", "is required"},
		{"select duplicate question_key", "multiple_interaction", map[string]any{"template_card.select_list[1].question_key": "question_key1"}, ValidateOptions{}, "template_card.select_list[1].question_key", "duplicates the one at index 0"},
		{"select 11 options", "multiple_interaction", map[string]any{"template_card.select_list[1].option_list": list(11, option)}, ValidateOptions{}, "template_card.select_list[1].option_list", "between 1 and 10 items"},
		{"select no options", "multiple_interaction", map[string]any{"template_card.select_list[1].option_list": del}, ValidateOptions{}, "template_card.select_list[1].option_list", "between 1 and 10 items"},
		{"select option text", "multiple_interaction", map[string]any{"template_card.select_list[0].option_list[1].text": del}, ValidateOptions{}, "template_card.select_list[0].option_list[1].text", "is required"},
		{"multiple submit_button", "multiple_interaction", map[string]any{"template_card.submit_button": del}, ValidateOptions{}, "template_card.submit_button", "is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := patched(t, tc.base, tc.set)
			m := mustDecode(t, in)
			_, errs := m.Validate(tc.opts)
			got, ok := errs[tc.path]
			if !ok || !strings.Contains(got, tc.msg) {
				t.Errorf("want %s: …%s…, got errors %v\nmessage %s", tc.path, tc.msg, errs, in)
			}
		})
	}
}

func TestValidateAllowsWhatWeComAllows(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, base string
		set        map[string]any
	}{
		{"text_notice with only sub_title_text", "text_notice", map[string]any{"template_card.main_title": del}},
		{"notice card without action_menu needs no task_id", "text_notice", map[string]any{"template_card.action_menu": del, "template_card.task_id": del}},
		{"vote single choice, one checked", "vote_interaction", map[string]any{"template_card.checkbox.mode": 0}},
		{"8 news articles", "news", map[string]any{"news.articles": list(8, article)}},
		{"6 buttons", "button_interaction", map[string]any{"template_card.button_list": list(6, button)}},
		{"20 vote options", "vote_interaction", map[string]any{"template_card.checkbox.option_list": list(20, option)}},
		{"url of exactly 2048 bytes", "textcard", map[string]any{"textcard.url": "https://example.com/" + strings.Repeat("a", 2048-20)}},
		{"btntxt of 4 characters", "textcard", map[string]any{"textcard.btntxt": "查看详情"}},
		{"miniprogram title of 4 characters", "miniprogram_notice", map[string]any{"miniprogram_notice.title": "预订成功"}},
		{"task_id of 128 bytes", "vote_interaction", map[string]any{"template_card.task_id": strings.Repeat("a-_@", 32)}},
		{"button of 10 characters", "button_interaction", map[string]any{"template_card.button_list[0].text": "同意这个订单的付款申"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := mustDecode(t, patched(t, tc.base, tc.set))
			if warnings, errs := m.Validate(ValidateOptions{}); errs != nil || warnings != nil {
				t.Errorf("warnings %q, errors %v", warnings, errs)
			}
		})
	}
}

func TestDecodeReportsPaths(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, path, msg string
	}{
		{"typo in a body", `{"msgtype":"textcard","textcard":{"titel":"x"}}`, "textcard.titel", "unknown field"},
		{"typo in a list item", `{"msgtype":"news","news":{"articles":[{"title":"a"},{"title":"b","picUrl":"https://a.cn"}]}}`, "news.articles[1].picUrl", "unknown field"},
		{"typo deep in a card", `{"msgtype":"template_card","template_card":{"card_type":"button_interaction","button_list":[{"text":"a","key":"k","colour":1}]}}`, "template_card.button_list[0].colour", "unknown field"},
		{"unknown top-level key", `{"msgtype":"text","text":{"content":"x"},"channel":"ops"}`, "channel", "unknown field"},
		{"unknown key of the media source", `{"msgtype":"image","image":{"media":{"path":"/etc/passwd"}}}`, "image.media.path", "unknown field"},
		{"string for an integer", `{"msgtype":"template_card","template_card":{"card_type":"button_interaction","button_list":[{"text":"a","key":"k"},{"text":"b","key":"l","style":"2"}]}}`, "template_card.button_list[1].style", "must be an integer"},
		{"fraction for an integer", `{"msgtype":"template_card","template_card":{"card_type":"vote_interaction","checkbox":{"mode":0.5}}}`, "template_card.checkbox.mode", "must be an integer"},
		{"number for a string", `{"msgtype":"text","text":{"content":42}}`, "text.content", "must be a string"},
		{"string for a bool", `{"msgtype":"miniprogram_notice","miniprogram_notice":{"emphasis_first_item":"yes"}}`, "miniprogram_notice.emphasis_first_item", "must be true or false"},
		{"object for a list", `{"msgtype":"news","news":{"articles":{"title":"a"}}}`, "news.articles", "must be a list"},
		{"string for an object", `{"msgtype":"text","text":"hello"}`, "text", "must be an object"},
		{"string for a number", `{"msgtype":"template_card","template_card":{"card_type":"news_notice","card_image":{"aspect_ratio":"wide"}}}`, "template_card.card_image.aspect_ratio", "must be a number"},
		{"number for msgtype", `{"msgtype":1}`, "msgtype", "must be a string"},
		{"not an object", `["text"]`, "", "must be a JSON object"},
		{"not JSON", `{"msgtype":`, "", "is not valid JSON"},
		{"trailing data", `{"msgtype":"text"} {}`, "", "after the JSON object"},
		{"integer overflow", `{"msgtype":"template_card","template_card":{"card_type":"vote_interaction","checkbox":{"mode":1e40}}}`, "template_card.checkbox.mode", "must be an integer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, errs := DecodeMessage([]byte(tc.in))
			if m != nil || !strings.Contains(errs[tc.path], tc.msg) {
				t.Errorf("want %q: …%s…, got %v", tc.path, tc.msg, errs)
			}
		})
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, errs := DecodeMessage([]byte(`{"msgtype":"textcard","textcard":{"titel":"x","url":1,"btn_txt":"y"}}`))
	want := []string{"textcard.btn_txt", "textcard.titel", "textcard.url"}
	if got := slices.Sorted(maps.Keys(errs)); !slices.Equal(got, want) {
		t.Errorf("errors %v, want one for each of %v", errs, want)
	}
}

func TestParseMessageAcceptsGoValues(t *testing.T) {
	t.Parallel()
	// A template renderer hands over Go values, not JSON ones: ints must pass as integers.
	m, errs := ParseMessage(map[string]any{"msgtype": "template_card", "template_card": map[string]any{
		"card_type": "button_interaction", "task_id": "t1", "main_title": map[string]any{"title": "ok?"},
		"button_list": []any{map[string]any{"text": "Yes", "key": "yes", "style": 2}}}})
	if errs != nil {
		t.Fatal(errs)
	}
	if s := m.TemplateCard.ButtonList[0].Style; s == nil || *s != 2 {
		t.Errorf("style = %v", s)
	}
}

func TestSplitMessage(t *testing.T) {
	t.Parallel()
	body := map[string]any{"channel": "ops", "to": map[string]any{"all": true}, "msgtype": "text",
		"text": map[string]any{"content": "hi"}, "data": 1, "textcrad": map[string]any{}}
	msg, rest := SplitMessage(body)
	if !reflect.DeepEqual(slices.Sorted(maps.Keys(msg)), []string{"msgtype", "text"}) ||
		!reflect.DeepEqual(slices.Sorted(maps.Keys(rest)), []string{"channel", "data", "textcrad", "to"}) {
		t.Errorf("message %v, rest %v", msg, rest)
	}
}

// field reads the string at a JSON path of a message, as it would be sent.
func field(t *testing.T, m *Message, path string) string {
	t.Helper()
	raw, _ := json.Marshal(m)
	var root map[string]any
	_ = json.Unmarshal(raw, &root)
	parent, key := locate(t, root, path)
	s, _ := parent[key].(string)
	return s
}

func TestValidateTruncates(t *testing.T) {
	t.Parallel()
	zh := func(n int) string { return strings.Repeat("中", n) }    // 3 bytes each
	emoji := func(n int) string { return strings.Repeat("😀", n) } // 4 bytes each
	cases := []struct {
		name, base, path string
		value            string
		wantBytes        int
		wantRunes        int
		warning          string
	}{
		{"text in Chinese", "text", "text.content", zh(700), 2046, 682, "text.content truncated to 2048 bytes"},
		{"text with emoji", "text", "text.content", "a" + emoji(600), 2045, 512, "text.content truncated to 2048 bytes"},
		{"markdown in Chinese", "markdown", "markdown.content", "ab" + zh(1000), 2048, 684, "markdown.content truncated to 2048 bytes"},
		{"markdown with emoji", "markdown", "markdown.content", "abc" + emoji(600), 2047, 514, "markdown.content truncated to 2048 bytes"},
		{"textcard title", "textcard", "textcard.title", zh(200), 384, 128, "textcard.title truncated to 128 characters"},
		{"textcard description in Chinese", "textcard", "textcard.description", zh(513), 1536, 512, "textcard.description truncated to 512 characters"},
		{"textcard description with emoji", "textcard", "textcard.description", "x" + emoji(600), 2045, 512, "textcard.description truncated to 512 characters"},
		{"news title", "news", "news.articles[1].title", "ab" + zh(50), 128, 44, "news.articles[1].title truncated to 128 bytes"},
		{"news title with emoji", "news", "news.articles[0].title", "a" + emoji(40), 125, 32, "news.articles[0].title truncated to 128 bytes"},
		{"news description", "news", "news.articles[0].description", emoji(200), 512, 128, "news.articles[0].description truncated to 512 bytes"},
		{"video title", "video", "video.title", "x" + emoji(40), 125, 32, "video.title truncated to 128 bytes"},
		{"video description", "video", "video.description", zh(200), 510, 170, "video.description truncated to 512 bytes"},
		{"card source desc", "text_notice", "template_card.source.desc", zh(25), 60, 20, "template_card.source.desc truncated to 20 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := mustDecode(t, patched(t, tc.base, map[string]any{tc.path: tc.value}))
			warnings, errs := m.Validate(ValidateOptions{})
			if errs != nil {
				t.Fatal(errs)
			}
			got := field(t, m, tc.path)
			if !utf8.ValidString(got) || len(got) != tc.wantBytes || utf8.RuneCountInString(got) != tc.wantRunes ||
				!strings.HasPrefix(tc.value, got) {
				t.Errorf("got %d bytes, %d runes (valid %v), want %d bytes, %d runes, a prefix of the input",
					len(got), utf8.RuneCountInString(got), utf8.ValidString(got), tc.wantBytes, tc.wantRunes)
			}
			if !slices.Equal(warnings, []string{tc.warning}) {
				t.Errorf("warnings %q, want %q", warnings, tc.warning)
			}
		})
	}
}

func TestValidateKeepsTextAtTheLimit(t *testing.T) {
	t.Parallel()
	m := mustDecode(t, patched(t, "text", map[string]any{"text.content": strings.Repeat("中", 682) + "ab"}))
	if warnings, errs := m.Validate(ValidateOptions{}); warnings != nil || errs != nil || len(m.Text.Content) != 2048 {
		t.Errorf("warnings %q, errors %v, %d bytes", warnings, errs, len(m.Text.Content))
	}
	m = mustDecode(t, patched(t, "textcard", map[string]any{"textcard.description": strings.Repeat("😀", 512)}))
	if warnings, errs := m.Validate(ValidateOptions{}); warnings != nil || errs != nil {
		t.Errorf("warnings %q, errors %v", warnings, errs)
	}
}

func TestValidateWarnsAboutIgnoredCardFields(t *testing.T) {
	t.Parallel()
	m := mustDecode(t, patched(t, "text_notice", map[string]any{
		"template_card.button_list": list(1, button), "template_card.checkbox": map[string]any{"question_key": "q", "option_list": list(1, option)}}))
	warnings, errs := m.Validate(ValidateOptions{})
	want := []string{"template_card.button_list is ignored by WeCom for card_type text_notice",
		"template_card.checkbox is ignored by WeCom for card_type text_notice"}
	if errs != nil || !slices.Equal(warnings, want) {
		t.Errorf("warnings %q, errors %v", warnings, errs)
	}
}

func TestValidateTemplated(t *testing.T) {
	t.Parallel()
	in := patched(t, "textcard", map[string]any{
		"textcard.url":         "{{$context.data.url}}",
		"textcard.description": strings.Repeat("订单 {{$context.data.id}} ", 100),
	})
	m := mustDecode(t, in)
	if warnings, errs := m.Validate(ValidateOptions{Templated: true}); warnings != nil || errs != nil {
		t.Errorf("templated: warnings %q, errors %v", warnings, errs)
	}
	if _, errs := mustDecode(t, in).Validate(ValidateOptions{}); errs["textcard.url"] == "" {
		t.Errorf("rendered: want a textcard.url error, got %v", errs)
	}
	empty := mustDecode(t, patched(t, "textcard", map[string]any{"textcard.url": ""}))
	if _, errs := empty.Validate(ValidateOptions{Templated: true}); errs["textcard.url"] != "is required" {
		t.Errorf("templated still requires fields, got %v", errs)
	}
}

func TestInteractiveAndTaskID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		in          string
		interactive bool
		taskID      string
	}{
		{"text", validMessages["text"], false, ""},
		{"text_notice with action_menu", validMessages["text_notice"], true, "task_id-1@acme"},
		{"text_notice without action_menu", patched(t, "text_notice", map[string]any{"template_card.action_menu": del}), false, "task_id-1@acme"},
		{"news_notice", validMessages["news_notice"], false, ""},
		{"button_interaction", validMessages["button_interaction"], true, "order-42"},
		{"vote_interaction", validMessages["vote_interaction"], true, "vote_1"},
		{"multiple_interaction", validMessages["multiple_interaction"], true, "multi@1"},
	}
	for _, tc := range cases {
		m := mustDecode(t, tc.in)
		if m.IsInteractive() != tc.interactive || m.TaskID() != tc.taskID {
			t.Errorf("%s: IsInteractive %v, TaskID %q", tc.name, m.IsInteractive(), m.TaskID())
		}
	}
}

func TestEnsureTaskID(t *testing.T) {
	t.Parallel()
	// SPEC §4.1's card, which has no task_id: the server assigns one per send.
	m := mustDecode(t, `{"msgtype":"template_card","template_card":{"card_type":"button_interaction",
		"main_title":{"title":"Approve order 42?"},
		"button_list":[{"text":"Approve","key":"approve"},{"text":"Reject","key":"reject","style":2}]}}`)
	if _, errs := m.Validate(ValidateOptions{}); errs["template_card.task_id"] == "" {
		t.Errorf("want a task_id error before EnsureTaskID, got %v", errs)
	}
	if id := m.EnsureTaskID(func() string { return "01JTASK" }); id != "01JTASK" {
		t.Errorf("EnsureTaskID = %q", id)
	}
	if _, errs := m.Validate(ValidateOptions{}); errs != nil {
		t.Errorf("after EnsureTaskID: %v", errs)
	}
	if id := m.EnsureTaskID(func() string { return "other" }); id != "01JTASK" {
		t.Errorf("EnsureTaskID replaced a task_id: %q", id)
	}
	notice := mustDecode(t, validMessages["news_notice"])
	if id := notice.EnsureTaskID(func() string { return "x" }); id != "" {
		t.Errorf("a card without callbacks got task_id %q", id)
	}
}

func TestBodyRequiresTheMsgtypeBody(t *testing.T) {
	t.Parallel()
	if _, err := (&Message{MsgType: MsgText}).WeComBody(); err == nil {
		t.Error("want an error for a text message without text")
	}
	// Only the msgtype's body goes to WeCom even if another one is set.
	m := &Message{MsgType: MsgText, Text: &Text{Content: "hi"}, Markdown: &Markdown{Content: "**hi**"}}
	body, err := m.WeComBody()
	if err != nil || string(body) != `{"msgtype":"text","text":{"content":"hi"}}` {
		t.Errorf("WeComBody = %s, %v", body, err)
	}
}

func TestTruncateHelpers(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in           string
		limit        int
		runes, bytes string
		cutR, cutB   bool
	}{
		{"héllo", 2, "hé", "h", true, true},
		{"héllo", 3, "hél", "hé", true, true},
		{"héllo", 6, "héllo", "héllo", false, false},
		{"中文😀", 0, "", "", true, true},
		{"中文😀", -1, "", "", true, true},
		{"中文😀", 2, "中文", "", true, true},
		{"中文😀", 9, "中文😀", "中文", false, true},
		{"", 0, "", "", false, false},
		{"a\xffb", 5, "a\uFFFDb", "a\uFFFDb", false, false},
		{"a\xffb", 3, "a\uFFFDb", "a", false, true},
	}
	for _, tc := range cases {
		gotR, cutR := TruncateRunes(tc.in, tc.limit)
		gotB, cutB := TruncateBytes(tc.in, tc.limit)
		if gotR != tc.runes || cutR != tc.cutR || gotB != tc.bytes || cutB != tc.cutB {
			t.Errorf("(%q, %d): runes %q %v, bytes %q %v; want %q %v, %q %v",
				tc.in, tc.limit, gotR, cutR, gotB, cutB, tc.runes, tc.cutR, tc.bytes, tc.cutB)
		}
	}
}

func FuzzTruncate(f *testing.F) {
	for _, s := range []string{"", "hello", "中文字符", "😀👨‍👩‍👧🇨🇳", "a\xffb\xc3", "\xe4\xb8"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit %= 4096
		for name, truncate := range map[string]func(string, int) (string, bool){"TruncateRunes": TruncateRunes, "TruncateBytes": TruncateBytes} {
			got, cut := truncate(s, limit)
			size := len(got)
			if name == "TruncateRunes" {
				size = utf8.RuneCountInString(got)
			}
			if !utf8.ValidString(got) || size > max(limit, 0) {
				t.Fatalf("%s(%q, %d) = %q: valid %v, size %d", name, s, limit, got, utf8.ValidString(got), size)
			}
			if utf8.ValidString(s) && (!strings.HasPrefix(s, got) || cut != (got != s)) {
				t.Fatalf("%s(%q, %d) = %q, %v: want a prefix, cut iff shorter", name, s, limit, got, cut)
			}
		}
	})
}
