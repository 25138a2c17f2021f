package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core, vendored unchanged (testdata/README.md pins the
// version).
//
//go:embed testdata/axe.min.js
var axeSource string

// axeVersion is the vendored axe-core's version; CheckPage verifies it.
const axeVersion = "4.14.1"

// Widths are the viewport widths CheckPage checks every page at: a laptop
// and a phone.
var Widths = []int64{1280, 390}

// cspRecorder runs in every document before the page's own scripts (it is
// added by CDP, which the page's policy does not govern) and records each
// Content-Security-Policy violation the browser reports.
const cspRecorder = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
	window.__cspViolations.push(e.violatedDirective + " refused " + (e.blockedURI || "inline") +
		" (" + (e.sourceFile || location.pathname) + ":" + e.lineNumber + ")" + (e.sample ? " " + e.sample : ""));
});`

// recordCSP installs cspRecorder for every later document of the tab.
func (b *Browser) recordCSP() error {
	return chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder})
		return err
	}))
}

// CheckPage checks the page the tab is on the way a reviewer does, at each
// of Widths (1280 and 390 px), and reports every failure on t:
//
//   - a full-page screenshot, screenshots/<Test>/<name>-<width>.png (look at them);
//   - nothing wider than the window: documentElement.scrollWidth <= clientWidth
//     (the failure names the widest elements);
//   - axe-core finds no WCAG 2.0/2.1 A or AA violation;
//   - no Content-Security-Policy violation since the page loaded.
//
// Call it after the page (and any htmx swap) has settled, once per page and
// role. It leaves the window at 1280 px. It takes about a second per width.
func (b *Browser) CheckPage(t testing.TB, name string) {
	t.Helper()
	defer b.Run(chromedp.EmulateViewport(1280, 900))
	for _, w := range Widths {
		if w < 600 {
			// A phone: mobile emulation, so the viewport meta applies and
			// scrollbars overlay the page as they do on a phone.
			b.Run(chromedp.EmulateViewport(w, viewportHeight(w), chromedp.EmulateMobile, chromedp.EmulateTouch))
		} else {
			b.Run(chromedp.EmulateViewport(w, viewportHeight(w)))
		}
		// Let layout, fonts and media queries settle at the new width.
		get(b, chromedp.Evaluate[bool](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise))
		label := fmt.Sprintf("%s at %d px", name, w)
		get(b, chromedp.Evaluate[bool](`window.scrollTo(0, 0); true`))
		b.screenshot(t, fmt.Sprintf("%s-%d", name, w))
		if msg := get(b, chromedp.Evaluate[string](overflowJS)); msg != "" {
			t.Errorf("%s: the page is wider than the window: %s", label, msg)
		}
		for _, v := range b.axe() {
			t.Errorf("%s: axe: %s", label, v)
		}
		if w == Widths[0] {
			for _, v := range b.CSPViolations() {
				t.Errorf("%s: Content-Security-Policy violation: %s", name, v)
			}
		}
	}
}

func viewportHeight(w int64) int64 {
	if w < 600 {
		return 844
	}
	return 900
}

// CSPViolations lists the Content-Security-Policy violations reported since
// the current document loaded.
func (b *Browser) CSPViolations() []string {
	b.t.Helper()
	return get(b, chromedp.Evaluate[[]string](`window.__cspViolations || []`))
}

// overflowJS answers "" when nothing sticks out sideways, else the page
// width and the elements whose right edge passes the window.
const overflowJS = `(() => {
	const de = document.documentElement;
	if (de.scrollWidth <= de.clientWidth) return "";
	const out = [];
	for (const el of document.body.querySelectorAll("*")) {
		const r = el.getBoundingClientRect();
		if (r.width === 0 || r.right <= de.clientWidth + 1) continue;
		const closed = el.closest("details:not([open])");
		if (closed && !el.closest("summary")) continue;
		// Inside a scroll box that clips it: fine.
		let p = el.parentElement, clipped = false;
		while (p && p !== document.body) {
			const o = getComputedStyle(p).overflowX;
			if ((o === "auto" || o === "scroll" || o === "hidden") && p.getBoundingClientRect().right <= de.clientWidth + 1) { clipped = true; break; }
			p = p.parentElement;
		}
		if (clipped) continue;
		let d = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "");
		out.push(d + " (right " + Math.round(r.right) + ")");
		if (out.length >= 6) break;
	}
	return "scrollWidth " + de.scrollWidth + " > clientWidth " + de.clientWidth + ": " + out.join(", ");
})()`

// axe injects axe-core once per document and runs the WCAG 2.1 A and AA
// rules, returning one line per violated rule with its first nodes.
func (b *Browser) axe() []string {
	b.t.Helper()
	loaded := get(b, chromedp.Evaluate[string](`typeof axe === "undefined" ? "" : axe.version`))
	if loaded == "" {
		get(b, chromedp.Evaluate[bool](axeSource+"\n;true"))
		loaded = get(b, chromedp.Evaluate[string](`axe.version`))
	}
	if loaded != axeVersion {
		b.t.Fatalf("browsertest: axe-core %s loaded, want %s", loaded, axeVersion)
	}
	raw := get(b, chromedp.Evaluate[string](`axe.run(document, {
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
		resultTypes: ["violations"]
	}).then(r => JSON.stringify(r.violations.map(v => ({
		id: v.id, impact: v.impact, help: v.help,
		nodes: v.nodes.slice(0, 4).map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " "))
	}))))`, chromedp.EvalAwaitPromise))
	var vs []struct {
		ID     string   `json:"id"`
		Impact string   `json:"impact"`
		Help   string   `json:"help"`
		Nodes  []string `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		b.t.Fatalf("browsertest: axe result: %v", err)
	}
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%s (%s): %s\n      %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n      ")))
	}
	return out
}
