package message

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Every shape the callback's XML decodes SelectedItems into reads as the options per question.
func TestSelectedNormalizesWeComShapes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, raw string
		want      map[string][]string
	}{
		{"button click", `null`, map[string][]string{}},
		{"nothing stored", ``, map[string][]string{}},
		{"one item, one option", `{"SelectedItem":{"QuestionKey":"q1","OptionIds":{"OptionId":"opt1"}}}`,
			map[string][]string{"q1": {"opt1"}}},
		{"one item, two options", `{"SelectedItem":{"QuestionKey":"q1","OptionIds":{"OptionId":["opt1","opt2"]}}}`,
			map[string][]string{"q1": {"opt1", "opt2"}}},
		{"one item, nothing picked", `{"SelectedItem":{"OptionIds":"","QuestionKey":"q1"}}`, map[string][]string{"q1": {}}},
		{"OptionIds as the id itself", `{"SelectedItem":{"QuestionKey":"q1","OptionIds":"opt1"}}`, map[string][]string{"q1": {"opt1"}}},
		{"a list of items", `{"SelectedItem":[{"QuestionKey":"budget","OptionIds":{"OptionId":["travel","hotel"]}},` +
			`{"QuestionKey":"approver","OptionIds":{"OptionId":"lisi"}}]}`,
			map[string][]string{"budget": {"travel", "hotel"}, "approver": {"lisi"}}},
		{"an item without a key is skipped", `{"SelectedItem":[{"OptionIds":{"OptionId":"x"}},"junk"]}`, map[string][]string{}},
	} {
		if got := Selected(json.RawMessage(c.raw)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
