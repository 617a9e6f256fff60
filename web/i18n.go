package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
)

// Languages the UI speaks; the first is the default.
var languages = []string{"en", "zh-CN"}

// langCookie remembers a language chosen with ?lang=.
const langCookie = "wecomflow_lang"

// catalogue holds every string by language and key.
type catalogue map[string]map[string]string

// loadCatalogue reads i18n/<lang>/*.json: flat objects of key → text (fmt verbs for arguments).
func loadCatalogue(fsys fs.FS) (catalogue, error) {
	cat := catalogue{}
	for _, lang := range languages {
		cat[lang] = map[string]string{}
		names, err := fs.Glob(fsys, path.Join("i18n", lang, "*.json"))
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			raw, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, err
			}
			var m map[string]string
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, fmt.Errorf("web: %s: %w", name, err)
			}
			for k, v := range m {
				if _, dup := cat[lang][k]; dup {
					return nil, fmt.Errorf("web: %s: key %q is defined twice", name, k)
				}
				cat[lang][k] = v
			}
		}
	}
	return cat, nil
}

// text is the key's text in lang, the English one when lang lacks it, the key when both do.
func (c catalogue) text(lang, key string, args ...any) string {
	s, ok := c[lang][key]
	if !ok {
		if s, ok = c[languages[0]][key]; !ok {
			s = key
		}
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// language is the request's language: ?lang= (remembered in a cookie), the cookie, then
// Accept-Language (any zh is zh-CN), then English.
func (u *UI) language(c *gin.Context) string {
	if l := c.Query("lang"); l != "" {
		for _, known := range languages {
			if strings.EqualFold(l, known) {
				c.SetCookie(langCookie, known, 365*24*3600, "/", "", u.secure, true)
				return known
			}
		}
	}
	if l, err := c.Cookie(langCookie); err == nil {
		for _, known := range languages {
			if l == known {
				return known
			}
		}
	}
	if l := acceptedLanguage(c.GetHeader("Accept-Language")); l != "" {
		return l
	}
	return languages[0]
}

// acceptedLanguage is the first language of an Accept-Language header the UI speaks (any zh is
// zh-CN), or "".
func acceptedLanguage(header string) string {
	for _, part := range strings.Split(header, ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "zh"):
			return "zh-CN"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return ""
}
