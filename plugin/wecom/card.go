package wecom

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/wecomflow/wecomflow/plugin"
)

// The card_type values of a template_card.
const (
	CardTextNotice          = "text_notice"
	CardNewsNotice          = "news_notice"
	CardButtonInteraction   = "button_interaction"
	CardVoteInteraction     = "vote_interaction"
	CardMultipleInteraction = "multiple_interaction"
)

// CardTypes lists every card_type.
func CardTypes() []string {
	return []string{CardTextNotice, CardNewsNotice, CardButtonInteraction, CardVoteInteraction, CardMultipleInteraction}
}

// TemplateCard is a template_card message of any of the five card types; which fields a type uses
// is in cardFields.
type TemplateCard struct {
	CardType              string              `json:"card_type"`
	Source                *CardSource         `json:"source,omitempty"`
	ActionMenu            *ActionMenu         `json:"action_menu,omitempty"`
	TaskID                string              `json:"task_id,omitempty"`
	MainTitle             *MainTitle          `json:"main_title,omitempty"`
	QuoteArea             *QuoteArea          `json:"quote_area,omitempty"`
	EmphasisContent       *EmphasisContent    `json:"emphasis_content,omitempty"`
	SubTitleText          string              `json:"sub_title_text,omitempty"`
	HorizontalContentList []HorizontalContent `json:"horizontal_content_list,omitempty"`
	JumpList              []Jump              `json:"jump_list,omitempty"`
	CardAction            *Link               `json:"card_action,omitempty"`
	CardImage             *CardImage          `json:"card_image,omitempty"`
	ImageTextArea         *ImageTextArea      `json:"image_text_area,omitempty"`
	VerticalContentList   []VerticalContent   `json:"vertical_content_list,omitempty"`
	ButtonSelection       *Selector           `json:"button_selection,omitempty"`
	ButtonList            []Button            `json:"button_list,omitempty"`
	Checkbox              *Checkbox           `json:"checkbox,omitempty"`
	SelectList            []Selector          `json:"select_list,omitempty"`
	SubmitButton          *SubmitButton       `json:"submit_button,omitempty"`
}

// CardSource is the line naming who sends the card; desc_color 0 grey, 1 black, 2 red, 3 green.
type CardSource struct {
	IconURL   string `json:"icon_url,omitempty"`
	Desc      string `json:"desc,omitempty"`
	DescColor *int   `json:"desc_color,omitempty"`
}

// ActionMenu is the "…" menu at the top right of a card; choosing an action calls back.
type ActionMenu struct {
	Desc       string       `json:"desc,omitempty"`
	ActionList []MenuAction `json:"action_list,omitempty"`
}

// MenuAction is one entry of an ActionMenu; key comes back as the callback's EventKey.
type MenuAction struct {
	Text string `json:"text,omitempty"`
	Key  string `json:"key,omitempty"`
}

// MainTitle is the card's title and its secondary line.
type MainTitle struct {
	Title string `json:"title,omitempty"`
	Desc  string `json:"desc,omitempty"`
}

// EmphasisContent is the big key figure of a text_notice card.
type EmphasisContent struct {
	Title string `json:"title,omitempty"`
	Desc  string `json:"desc,omitempty"`
}

// Link is what tapping a card element opens: type 0 or absent nothing, 1 the url, 2 the mini
// program appid (at pagepath). It is card_action, and part of the quote area, the jump list and
// the image text area.
type Link struct {
	Type     *int   `json:"type,omitempty"`
	URL      string `json:"url,omitempty"`
	AppID    string `json:"appid,omitempty"`
	PagePath string `json:"pagepath,omitempty"`
}

// QuoteArea is a quoted block under the title.
type QuoteArea struct {
	Link
	Title     string `json:"title,omitempty"`
	QuoteText string `json:"quote_text,omitempty"`
}

// HorizontalContent is one key/value line; type 0 text, 1 link (url), 2 file (media_id),
// 3 member card (userid).
type HorizontalContent struct {
	Type    *int   `json:"type,omitempty"`
	KeyName string `json:"keyname,omitempty"`
	Value   string `json:"value,omitempty"`
	URL     string `json:"url,omitempty"`
	MediaID string `json:"media_id,omitempty"`
	UserID  string `json:"userid,omitempty"`
}

// Jump is one link at the bottom of a card.
type Jump struct {
	Link
	Title string `json:"title,omitempty"`
}

// CardImage is the picture of a news_notice card.
type CardImage struct {
	URL         string   `json:"url,omitempty"`
	AspectRatio *float64 `json:"aspect_ratio,omitempty"`
}

// ImageTextArea is the picture-and-text block of a news_notice card (instead of a CardImage).
type ImageTextArea struct {
	Link
	Title    string `json:"title,omitempty"`
	Desc     string `json:"desc,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
}

// VerticalContent is one title/description pair of a news_notice card.
type VerticalContent struct {
	Title string `json:"title,omitempty"`
	Desc  string `json:"desc,omitempty"`
}

// Selector is a drop-down: button_selection of a button_interaction card and each entry of the
// select_list of a multiple_interaction card.
type Selector struct {
	QuestionKey string   `json:"question_key,omitempty"`
	Title       string   `json:"title,omitempty"`
	SelectedID  string   `json:"selected_id,omitempty"`
	OptionList  []Option `json:"option_list,omitempty"`
}

// Option is one choice of a Selector; the callback reports its id.
type Option struct {
	ID   string `json:"id,omitempty"`
	Text string `json:"text,omitempty"`
}

// Button is one button of a button_interaction card: type 0 calls back with key, type 1 opens url;
// style 1–4 picks its colour.
type Button struct {
	Text  string `json:"text,omitempty"`
	Style *int   `json:"style,omitempty"`
	Key   string `json:"key,omitempty"`
	Type  *int   `json:"type,omitempty"`
	URL   string `json:"url,omitempty"`
}

// Checkbox is the question of a vote_interaction card; mode 0 single choice, 1 multiple choice.
type Checkbox struct {
	QuestionKey string           `json:"question_key,omitempty"`
	OptionList  []CheckboxOption `json:"option_list,omitempty"`
	Mode        *int             `json:"mode,omitempty"`
}

// CheckboxOption is one choice of a Checkbox.
type CheckboxOption struct {
	ID        string `json:"id,omitempty"`
	Text      string `json:"text,omitempty"`
	IsChecked *bool  `json:"is_checked,omitempty"`
}

// SubmitButton submits a vote or multiple interaction card; key comes back as the EventKey.
type SubmitButton struct {
	Text string `json:"text,omitempty"`
	Key  string `json:"key,omitempty"`
}

// interactive reports whether WeCom calls back about the card (see Message.IsInteractive).
func (c *TemplateCard) interactive() bool {
	switch c.CardType {
	case CardButtonInteraction, CardVoteInteraction, CardMultipleInteraction:
		return true
	case CardTextNotice, CardNewsNotice:
		return c.ActionMenu != nil
	}
	return false
}

// cardFields lists the fields WeCom reads for a card type (page 90236); it ignores the others.
func cardFields(cardType string) []string {
	common := []string{"card_type", "source", "task_id", "main_title"}
	switch cardType {
	case CardTextNotice:
		return append(common, "action_menu", "quote_area", "emphasis_content", "sub_title_text",
			"horizontal_content_list", "jump_list", "card_action")
	case CardNewsNotice:
		return append(common, "action_menu", "quote_area", "image_text_area", "card_image",
			"vertical_content_list", "horizontal_content_list", "jump_list", "card_action")
	case CardButtonInteraction:
		return append(common, "action_menu", "quote_area", "sub_title_text", "horizontal_content_list",
			"card_action", "button_selection", "button_list")
	case CardVoteInteraction:
		return append(common, "checkbox", "submit_button")
	case CardMultipleInteraction:
		return append(common, "select_list", "submit_button")
	}
	return nil
}

// Card limits from API-NOTES.
const (
	maxTaskIDBytes      = 128
	maxSourceDescRunes  = 20
	maxButtonTextRunes  = 10
	maxActions          = 3
	maxHorizontal       = 6
	maxJumps            = 3
	maxVertical         = 4
	maxButtons          = 6
	maxCheckboxOptions  = 20
	maxSelects          = 3
	maxSelectorOptions  = 10
	minImageAspectRatio = 1.3
	maxImageAspectRatio = 2.25
)

var taskIDRe = regexp.MustCompile(`^[0-9A-Za-z_\-@]+$`)

func (v *validator) templateCard(p string, c *TemplateCard) {
	fields := cardFields(c.CardType)
	if fields == nil {
		if v.required(p+".card_type", c.CardType) {
			v.fail(p+".card_type", "must be one of "+strings.Join(CardTypes(), ", "))
		}
		return
	}
	// WeCom ignores fields of other card types: say so rather than let the user wonder where the
	// buttons of their text_notice went.
	set := plugin.Encode(c)
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(fields, k) {
			v.warn("%s.%s is ignored by WeCom for card_type %s", p, k, c.CardType)
		}
	}
	v.cardParts(p, c)
	v.cardType(p, c)
}

// cardParts checks every part that is present, whatever the card type.
func (v *validator) cardParts(p string, c *TemplateCard) {
	if c.TaskID == "" && c.interactive() {
		v.fail(p+".task_id", "is required for interactive cards")
	}
	if c.TaskID != "" && v.final(c.TaskID) && !taskIDRe.MatchString(c.TaskID) {
		v.fail(p+".task_id", "must be letters, digits, '_', '-' or '@'")
	}
	v.maxBytes(p+".task_id", c.TaskID, maxTaskIDBytes)
	if s := c.Source; s != nil {
		v.url(p+".source.icon_url", s.IconURL)
		v.truncateRunes(p+".source.desc", &s.Desc, maxSourceDescRunes)
		v.inRange(p+".source.desc_color", s.DescColor, 0, 3, " (0 grey, 1 black, 2 red, 3 green)")
	}
	if m := c.ActionMenu; m != nil {
		v.count(p+".action_menu.action_list", len(m.ActionList), 1, maxActions)
		for i, a := range m.ActionList {
			v.required(index(p+".action_menu.action_list", i)+".text", a.Text)
			v.required(index(p+".action_menu.action_list", i)+".key", a.Key)
		}
	}
	if q := c.QuoteArea; q != nil {
		v.link(p+".quote_area", &q.Link, false)
	}
	v.count(p+".horizontal_content_list", len(c.HorizontalContentList), 0, maxHorizontal)
	for i, h := range c.HorizontalContentList {
		v.horizontal(index(p+".horizontal_content_list", i), h)
	}
	v.count(p+".jump_list", len(c.JumpList), 0, maxJumps)
	for i := range c.JumpList {
		jp := index(p+".jump_list", i)
		v.required(jp+".title", c.JumpList[i].Title)
		v.link(jp, &c.JumpList[i].Link, false)
	}
	if img := c.CardImage; img != nil {
		v.requiredURL(p+".card_image.url", img.URL)
		if r := img.AspectRatio; r != nil && (*r < minImageAspectRatio || *r > maxImageAspectRatio) {
			v.fail(p+".card_image.aspect_ratio", fmt.Sprintf("must be between %g and %g", minImageAspectRatio, maxImageAspectRatio))
		}
	}
	if a := c.ImageTextArea; a != nil {
		v.requiredURL(p+".image_text_area.image_url", a.ImageURL)
		v.link(p+".image_text_area", &a.Link, false)
	}
	v.count(p+".vertical_content_list", len(c.VerticalContentList), 0, maxVertical)
	for i, vc := range c.VerticalContentList {
		v.required(index(p+".vertical_content_list", i)+".title", vc.Title)
	}
	if s := c.ButtonSelection; s != nil {
		v.selector(p+".button_selection", s)
	}
	v.count(p+".button_list", len(c.ButtonList), 0, maxButtons)
	for i, b := range c.ButtonList {
		v.button(index(p+".button_list", i), b)
	}
	if cb := c.Checkbox; cb != nil {
		v.checkbox(p+".checkbox", cb)
	}
	v.count(p+".select_list", len(c.SelectList), 0, maxSelects)
	questions := map[string]int{}
	for i := range c.SelectList {
		sp := index(p+".select_list", i)
		v.selector(sp, &c.SelectList[i])
		v.unique(sp+".question_key", c.SelectList[i].QuestionKey, i, questions)
	}
	if s := c.SubmitButton; s != nil {
		v.required(p+".submit_button.key", s.Key)
	}
}

// cardType checks what the card's type requires.
func (v *validator) cardType(p string, c *TemplateCard) {
	title := deref(c.MainTitle).Title
	switch c.CardType {
	case CardTextNotice:
		if title == "" && c.SubTitleText == "" {
			v.fail(p+".main_title.title", "is required when sub_title_text is empty")
		}
		v.cardAction(p, c)
	case CardNewsNotice:
		v.required(p+".main_title.title", title)
		switch {
		case c.CardImage == nil && c.ImageTextArea == nil:
			v.fail(p+".card_image", "is required for news_notice (or image_text_area)")
		case c.CardImage != nil && c.ImageTextArea != nil:
			v.fail(p+".image_text_area", "cannot be used together with card_image")
		}
		v.cardAction(p, c)
	case CardButtonInteraction:
		v.required(p+".main_title.title", title)
		v.count(p+".button_list", len(c.ButtonList), 1, maxButtons)
	case CardVoteInteraction:
		v.present(p+".checkbox", c.Checkbox != nil)
		v.present(p+".submit_button", c.SubmitButton != nil)
	case CardMultipleInteraction:
		v.count(p+".select_list", len(c.SelectList), 1, maxSelects)
		v.present(p+".submit_button", c.SubmitButton != nil)
	}
}

// cardAction checks the card_action a notice card must have: tapping it opens a url or a mini program.
func (v *validator) cardAction(p string, c *TemplateCard) {
	if v.present(p+".card_action", c.CardAction != nil) {
		v.link(p+".card_action", c.CardAction, true)
	}
}

func (v *validator) present(path string, ok bool) bool {
	if !ok {
		v.fail(path, "is required")
	}
	return ok
}

// link checks what a card element opens: type 1 needs the url, type 2 the mini program's appid.
// mustOpen is for card_action of notice cards, which must open something.
func (v *validator) link(p string, l *Link, mustOpen bool) {
	if mustOpen {
		v.present(p+".type", l.Type != nil)
		v.inRange(p+".type", l.Type, 1, 2, " (1 url, 2 mini program)")
	} else {
		v.inRange(p+".type", l.Type, 0, 2, " (0 none, 1 url, 2 mini program)")
	}
	switch deref(l.Type) {
	case 1:
		v.required(p+".url", l.URL)
	case 2:
		v.required(p+".appid", l.AppID)
	}
	v.url(p+".url", l.URL)
}

func (v *validator) horizontal(p string, h HorizontalContent) {
	v.required(p+".keyname", h.KeyName)
	v.inRange(p+".type", h.Type, 0, 3, " (0 text, 1 url, 2 file, 3 member)")
	switch deref(h.Type) {
	case 1:
		v.required(p+".url", h.URL)
	case 2:
		v.required(p+".media_id", h.MediaID)
	case 3:
		v.required(p+".userid", h.UserID)
	}
	v.url(p+".url", h.URL)
}

func (v *validator) button(p string, b Button) {
	if v.required(p+".text", b.Text) {
		v.maxRunes(p+".text", b.Text, maxButtonTextRunes)
	}
	v.inRange(p+".style", b.Style, 1, 4, "")
	v.inRange(p+".type", b.Type, 0, 1, " (0 callback with key, 1 open url)")
	if deref(b.Type) == 1 {
		v.requiredURL(p+".url", b.URL)
	} else {
		v.required(p+".key", b.Key)
	}
}

func (v *validator) selector(p string, s *Selector) {
	v.required(p+".question_key", s.QuestionKey)
	v.options(p+".option_list", len(s.OptionList), maxSelectorOptions, func(i int) (string, string) {
		return s.OptionList[i].ID, s.OptionList[i].Text
	})
	if s.SelectedID != "" && v.final(s.SelectedID) &&
		!slices.ContainsFunc(s.OptionList, func(o Option) bool { return o.ID == s.SelectedID }) {
		v.fail(p+".selected_id", "must be the id of one of option_list")
	}
}

func (v *validator) checkbox(p string, c *Checkbox) {
	v.required(p+".question_key", c.QuestionKey)
	v.inRange(p+".mode", c.Mode, 0, 1, " (0 single choice, 1 multiple choice)")
	v.options(p+".option_list", len(c.OptionList), maxCheckboxOptions, func(i int) (string, string) {
		return c.OptionList[i].ID, c.OptionList[i].Text
	})
	if deref(c.Mode) != 0 {
		return
	}
	checked := 0
	for i, o := range c.OptionList {
		if !deref(o.IsChecked) {
			continue
		}
		if checked++; checked > 1 {
			v.fail(index(p+".option_list", i)+".is_checked", "only one option can be checked when mode is 0 (single choice)")
			return
		}
	}
}

// options checks a list of 1–hi choices: each needs an id and a text, and ids are unique because
// the callback reports only the ids.
func (v *validator) options(p string, n, hi int, option func(i int) (id, text string)) {
	v.count(p, n, 1, hi)
	seen := map[string]int{}
	for i := range n {
		id, text := option(i)
		op := index(p, i)
		if v.required(op+".id", id) {
			v.unique(op+".id", id, i, seen)
		}
		v.required(op+".text", text)
	}
}

// unique reports s at index i when an earlier index had it; seen maps values to their first index.
func (v *validator) unique(path, s string, i int, seen map[string]int) {
	if first, dup := seen[s]; dup && s != "" {
		v.fail(path, fmt.Sprintf("duplicates the one at index %d", first))
		return
	}
	seen[s] = i
}
