package server

import (
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// unlabelled names the form controls of the page that a screen reader cannot name: no <label>,
// aria-label, aria-labelledby or title (hidden fields and buttons need none).
const unlabelled = `(() => {
	const out = [];
	for (const el of document.querySelectorAll("input, select, textarea")) {
		if (["hidden", "submit", "button", "reset", "image"].includes(el.type)) continue;
		if (el.labels.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") || el.title) continue;
		out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.name ? "[name=" + el.name + "]" : ""));
	}
	return out.slice(0, 5).join(", ");
})()`

// focusRing describes the focused element's ring when it is not a visible outline of at least
// 3:1 contrast against the background it is drawn on (WCAG 2.2, 1.4.11 and 2.4.7); "" when it is.
const focusRing = `(() => {
	const el = document.activeElement;
	if (!el || el === document.body) return "nothing has the focus";
	const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).split(" ").join(".") : "");
	const st = getComputedStyle(el);
	if (st.outlineStyle === "none" || parseFloat(st.outlineWidth) < 2) return name + " shows no focus ring (" + st.outlineStyle + " " + st.outlineWidth + ")";
	const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
	const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
		.reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
	// The ring is drawn outside the element: against the first opaque background around it.
	let bg = [255, 255, 255];
	for (let p = el.parentElement; p; p = p.parentElement) {
		const c = rgb(getComputedStyle(p).backgroundColor);
		if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) { bg = c; break; }
	}
	const [a, b] = [lum(rgb(st.outlineColor)), lum(bg)];
	const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
	return ratio >= 3 ? "" : name + "'s focus ring " + st.outlineColor + " on rgb(" + bg.join(", ") + ") has contrast " + ratio.toFixed(2) + ":1";
})()`

// checkAccessible fails the page on form controls without a name and, for the first three
// elements the Tab key reaches, on a focus ring that is missing or under 3:1 against its
// background.
func (b *browserWalk) checkAccessible(name string) {
	b.t.Helper()
	if got := eval[string](b, unlabelled); got != "" {
		b.t.Errorf("%s has form controls without a label: %s", name, got)
	}
	for i := range 3 {
		b.do("pressing Tab", chromedp.KeyEvent(kb.Tab))
		if got := eval[string](b, focusRing); got != "" {
			b.t.Errorf("%s, Tab %d: %s", name, i+1, got)
		}
	}
}
