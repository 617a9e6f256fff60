package jsonstr

import (
	"bytes"
	"encoding/json"
	"testing"
)

// With html, Append writes what encoding/json writes; without, the same but for <, >, & and
// U+2028/U+2029, which it leaves as they are. Either way the JSON reads back as the string (with
// bytes that are not UTF-8 as U+FFFD).
func FuzzAppendMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\b\f\n\r\t\x00\x1f", "<a href=\"x\">&</a>", "\u2028\u2029", "中文", "\xff\xfe", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append(nil, s, true); !bytes.Equal(got, want) {
			t.Fatalf("Append(%q, html) = %s, encoding/json %s", s, got, want)
		}
		var back, wantBack string
		plain := Append(nil, s, false)
		if err := json.Unmarshal(plain, &back); err != nil {
			t.Fatalf("Append(%q) = %s: %v", s, plain, err)
		}
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("Append(%q) reads back as %q, want %q", s, back, wantBack)
		}
	})
}
