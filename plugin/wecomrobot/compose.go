package wecomrobot

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// A robot's limits (page 99110): content in bytes, media in bytes before encoding.
const (
	maxMarkdownBytes = 4096
	maxImageBytes    = 2 << 20
	maxVoiceBytes    = 2 << 20
	maxFileBytes     = 20 << 20
	minMediaBytes    = 6 // WeCom refuses files of 5 bytes or fewer
)

// msgTypes are the robot's msgtypes, in its documentation's order.
var msgTypes = []string{"text", "markdown", "markdown_v2", "image", "news", "file", "voice", "template_card"}

func (ChannelType) MsgTypes() []string { return slices.Clone(msgTypes) }

// Compose checks a robot message and its mentions and returns the object WeCom receives under
// the msgtype key.
func (t ChannelType) Compose(ctx context.Context, in plugin.Compose) (plugin.Composed, error) {
	errs := problem.Fields{}
	if !slices.Contains(msgTypes, in.MsgType) {
		return plugin.Composed{}, problem.Invalidf("msgtype", "must be one of %s (a group robot's types)", strings.Join(msgTypes, ", "))
	}
	checkMentions(in.MsgType, in.Mentions, errs)
	var out any
	var warnings []string
	switch in.MsgType {
	case "text":
		var text wecom.Text
		warnings = t.validated(in, &text, errs)
		out = textBody{Content: text.Content, Mentioned: mentionList(in.Mentions), Mobiles: in.Mentions.Mobiles}
	case "markdown", "markdown_v2":
		var md wecom.Markdown
		if e := plugin.Decode(in.Body, &md); e != nil {
			errs.AddAll(in.MsgType, e)
			break
		}
		if in.MsgType == "markdown" && len(in.Mentions.UserIDs) > 0 {
			md.Content += "\n" + mentionTags(in.Mentions.UserIDs)
		}
		warnings = markdownContent(in.MsgType+".content", &md.Content, errs)
		out = md
	case "news":
		var news wecom.News
		warnings = t.validated(in, &news, errs)
		for i, a := range news.Articles {
			if a.URL == "" || a.AppID != "" {
				errs.Add(fmt.Sprintf("news.articles[%d].url", i), "is required: a robot's articles open a URL (no mini programs)")
			}
		}
		out = news
	case "template_card":
		var card wecom.TemplateCard
		warnings = t.validated(in, &card, errs)
		if card.CardType != wecom.CardTextNotice && card.CardType != wecom.CardNewsNotice {
			errs.Add("template_card.card_type", "must be text_notice or news_notice: a robot's cards are not interactive")
		}
		out = card
	default: // image, file, voice
		var media wecom.Media
		warnings = t.validated(in, &media, errs)
		if len(errs) > 0 {
			break
		}
		var err error
		if out, err = t.media(ctx, in, media); err != nil {
			return plugin.Composed{}, err
		}
	}
	if len(errs) > 0 {
		return plugin.Composed{}, problem.Invalid(errs)
	}
	body, err := json.Marshal(out)
	if err != nil {
		return plugin.Composed{}, problem.Invalidf(in.MsgType, "cannot be encoded: %v", err)
	}
	return plugin.Composed{Body: body, Warnings: warnings}, nil
}

// textBody is a robot's text: its mentions are lists WeCom resolves in the group.
type textBody struct {
	Content   string   `json:"content"`
	Mentioned []string `json:"mentioned_list,omitempty"`
	Mobiles   []string `json:"mentioned_mobile_list,omitempty"`
}

// validated decodes and validates the body with WeCom's rules for app messages of the same type
// (which a robot shares), filling into with the result.
func (ChannelType) validated(in plugin.Compose, into any, errs problem.Fields) []string {
	msg, ferrs := wecom.ParseMessage(map[string]any{"msgtype": in.MsgType, in.MsgType: in.Body})
	if ferrs != nil {
		errs.AddAll("", ferrs)
		return nil
	}
	warnings, ferrs := msg.Validate(wecom.ValidateOptions{})
	errs.AddAll("", ferrs)
	// The validated (truncated) body is the one under the msgtype key of the message.
	var parts map[string]json.RawMessage
	raw, _ := json.Marshal(msg)
	_ = json.Unmarshal(raw, &parts)
	_ = json.Unmarshal(parts[in.MsgType], into)
	return warnings
}

// checkMentions: text mentions by userid, mobile and @all; markdown by userid (<@userid>);
// other types cannot mention anyone.
func checkMentions(msgtype string, m plugin.Mentions, errs problem.Fields) {
	switch {
	case msgtype == "text" || m.Empty():
	case msgtype == "markdown" && len(m.Mobiles) > 0:
		errs.Add("to.mobiles", "a robot's markdown mentions people by userid only; send text to mention by mobile")
	case msgtype == "markdown" && m.All:
		errs.Add("to.all", "a robot's markdown cannot mention everyone; send text to @all")
	case msgtype != "markdown":
		errs.Add("to", fmt.Sprintf("a robot mentions people in text and markdown only; a %s goes to the robot's group without mentions (leave out to)", msgtype))
	}
}

func mentionList(m plugin.Mentions) []string {
	list := slices.Clone(m.UserIDs)
	if m.All {
		list = append(list, "@all")
	}
	return list
}

// mentionTags is WeCom's markdown mention syntax for each userid.
func mentionTags(ids []string) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString("<@" + id + ">")
	}
	return b.String()
}

// markdownContent requires content and cuts it to a robot's 4096 bytes, which WeCom would refuse.
func markdownContent(path string, s *string, errs problem.Fields) []string {
	if strings.TrimSpace(*s) == "" {
		errs.Add(path, "is required")
		return nil
	}
	if cut, ok := wecom.TruncateBytes(*s, maxMarkdownBytes); ok {
		*s = cut
		return []string{fmt.Sprintf("%s truncated to %d bytes", path, maxMarkdownBytes)}
	}
	return nil
}

// media turns an image into base64 + md5 and uploads a file or voice to the robot, from the
// send's media source; a preview (no Media reader) shows placeholders and fetches nothing.
func (t ChannelType) media(ctx context.Context, in plugin.Compose, m wecom.Media) (any, error) {
	field := in.MsgType + ".media"
	if in.MsgType == "image" && m.MediaID != "" {
		return nil, problem.Invalidf("image.media_id", "cannot be used: a robot takes its images as base64; give media with a url or an upload id")
	}
	if m.Media == nil {
		return map[string]string{"media_id": m.MediaID}, nil
	}
	if in.Media == nil {
		if in.MsgType == "image" {
			return map[string]string{"base64": plugin.MediaPlaceholder, "md5": plugin.MediaPlaceholder}, nil
		}
		return map[string]string{"media_id": plugin.MediaPlaceholder}, nil
	}
	source := map[string]any{"url": m.Media.URL, "id": m.Media.ID}
	name, content, err := in.Media(ctx, field, in.MsgType, source)
	if err != nil {
		return nil, err
	}
	if err := checkContent(field, in.MsgType, content); err != nil {
		return nil, err
	}
	if in.MsgType == "image" {
		sum := md5.Sum(content)
		return map[string]string{"base64": base64.StdEncoding.EncodeToString(content), "md5": hex.EncodeToString(sum[:])}, nil
	}
	key, _ := in.Options["webhookKey"].(string)
	id, err := t.clients.RobotUpload(ctx, key, in.MsgType, name, content)
	if err != nil {
		return nil, &problem.Error{Code: problem.CodeValidation, Message: "WeCom did not take the file: " + wecom.Reason(err), Err: err,
			Fields: map[string]string{field: wecom.Reason(err)}}
	}
	return map[string]string{"media_id": id}, nil
}

// checkContent applies a robot's size and format limits to a media file.
func checkContent(field, msgtype string, content []byte) error {
	limit := map[string]int{"image": maxImageBytes, "voice": maxVoiceBytes, "file": maxFileBytes}[msgtype]
	switch {
	case len(content) < minMediaBytes:
		return problem.Invalidf(field, "must be larger than 5 bytes (WeCom refuses smaller files)")
	case len(content) > limit:
		return problem.Invalidf(field, "is %d bytes; a robot takes at most %d bytes for %s", len(content), limit, msgtype)
	case msgtype == "image" && !bytes.HasPrefix(content, []byte("\xff\xd8\xff")) && !bytes.HasPrefix(content, []byte("\x89PNG\r\n\x1a\n")):
		return problem.Invalidf(field, "must be a JPG or PNG picture (a robot sends no other)")
	case msgtype == "voice" && !bytes.HasPrefix(content, []byte("#!AMR")):
		return problem.Invalidf(field, "must be an AMR recording (a robot plays no other)")
	}
	return nil
}
