package recipes

import "testing"

// Every recipe speaks Chinese too: the recipe pages in zh-CN show its title, description and
// needs from its translation, and the rest (the name, the set-up) stays as it is.
func TestRecipesInChinese(t *testing.T) {
	for _, r := range List() {
		zh := r.In("zh-CN")
		if zh.Title == "" || zh.Description == r.Description || zh.Needs == r.Needs {
			t.Errorf("%s has no Chinese title, description or needs: %+v", r.Name, r.Translations)
		}
		if zh.Name != r.Name || zh.Setup != r.Setup || r.In("en").Description != r.Description {
			t.Errorf("%s: In changed more than its texts", r.Name)
		}
	}
}
