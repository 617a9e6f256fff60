package server

import "testing"

// The path of the first text that is not UTF-8, in the field-error form.
func TestInvalidUTF8NamesThePlace(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"userid": "caf` + "\xe9" + `"}`:                                                       "userid",
		`{"a": {"b": [1, "x", {"c": "` + "\xff" + `"}]}}`:                                       "a.b[2].c",
		`[{"userid": "ok", "set": {}}, {"userid": "x", "set": {"name": "` + "\xc3\x28" + `"}}]`: "[1].set.name",
		`{"ok": {}, "list": [], "k` + "\xfe" + `": 1}`:                                          "k\ufffd",
		`{"name": "fine", "title": "` + "\xe4\xb8" + `"}`:                                       "title",
	} {
		if got, bad := invalidUTF8([]byte(body)); !bad || got != want {
			t.Errorf("%q: %q %v, want %q", body, got, bad, want)
		}
	}
	if _, bad := invalidUTF8([]byte(`{"name": "张三 ✓"}`)); bad {
		t.Error("valid UTF-8 refused")
	}
}
