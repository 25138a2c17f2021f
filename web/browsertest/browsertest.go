// Package browsertest drives headless Chromium (Debian's chromium package)
// with chromedp for page tests.
//
// Each New starts its own browser with a fresh profile inside the test's
// temporary folder. A missing Chromium fails the test: page tests are never
// skipped. Run `go tool task test` (which installs it) or
// `apt-get install chromium`.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Timeout bounds each Run (and each helper built on it).
const Timeout = 30 * time.Second

// Browser is one headless Chromium tab bound to a test.
type Browser struct {
	t   testing.TB
	ctx context.Context // the chromedp context of this tab
	out *tailBuffer     // the browser's stdout and stderr
	log *testLog
}

// New starts Chromium for the test and returns its first tab. The browser is
// closed when the test ends.
func New(t testing.TB) *Browser {
	t.Helper()
	exe, err := findChromium()
	if err != nil {
		t.Fatal(err)
	}
	// A short folder, not t.TempDir(): Chromium puts unix sockets in TMPDIR,
	// and a path built from a long test name passes the 107-byte socket limit.
	tmp, err := os.MkdirTemp("", "ghb-")
	if err != nil {
		t.Fatal(err)
	}
	profile := filepath.Join(tmp, "chromium-profile")
	tmpdir := filepath.Join(tmp, "chromium-tmp")
	for _, d := range []string{profile, tmpdir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	out := &tailBuffer{max: 16 << 10}
	log := &testLog{t: t}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		// Chromium's own temporary files stay in the test's folder.
		chromedp.Env("TMPDIR="+tmpdir),
		chromedp.CombinedOutput(out),
	)
	ctx, cancel := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(log.logf),
		chromedp.WithErrorf(log.logf),
	)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		// Chromium's helpers can outlive the main process for a moment and
		// keep writing in the profile, which t.TempDir then fails to remove.
		killLeftovers(profile)
		log.stop()
		os.RemoveAll(tmp)
	})

	// Start the browser with a context that has no deadline (the first run
	// binds the browser's life to it), but give up if it hangs.
	b := &Browser{t: t, ctx: ctx, out: out, log: log}
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err = <-started:
	case <-time.After(Timeout):
		cancel()
		err = fmt.Errorf("no answer within %v", Timeout)
	}
	if err != nil {
		t.Fatalf("browsertest: starting %s: %v\nbrowser output:\n%s", exe, err, out.String())
	}
	b.listen()
	if err := b.recordCSP(); err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	return b
}

// NewTab opens another tab in the same browser, closed when the test ends.
// Tabs share cookies; use New for an independent browser.
func (b *Browser) NewTab() *Browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	nb := &Browser{t: b.t, ctx: ctx, out: b.out, log: b.log}
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("browsertest: new tab: %v", err)
	}
	nb.listen()
	if err := nb.recordCSP(); err != nil {
		b.t.Fatalf("browsertest: %v", err)
	}
	return nb
}

// Ctx returns the chromedp context of this tab, for chromedp.Run and
// chromedp.Do. It has no deadline; Run adds one.
func (b *Browser) Ctx() context.Context { return b.ctx }

// Run runs the actions in order, with a 30 s timeout, and fails the test on
// the first error, naming the page it was on.
func (b *Browser) Run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatal(err)
	}
}

// RunResponse runs actions that trigger a navigation (a click on a link, a
// form submission), waits for the new page to load, and returns the response
// of its HTML document.
func (b *Browser) RunResponse(actions ...chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, Timeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		b.fatal(err)
	}
	return resp
}

// Navigate loads url and waits for the page to load.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.Run(chromedp.Navigate(url))
}

// Text returns the visible text of the first element matching the CSS
// selector, waiting for it to exist.
func (b *Browser) Text(selector string) string {
	b.t.Helper()
	return get(b, chromedp.Text(chromedp.CSS(selector)))
}

// Click clicks the first element matching the CSS selector, once visible.
// It does not wait for a navigation it causes: use RunResponse for that, or
// WaitVisible on something of the next page.
func (b *Browser) Click(selector string) {
	b.t.Helper()
	b.Run(chromedp.Click(chromedp.CSS(selector)))
}

// OpenDialog clicks trigger until the <dialog> with id dialogID is open. A
// click computed while the page still reflows (just after a viewport change
// or a swap) can land beside the button on a busy machine, so it tries again,
// three times at most.
func (b *Browser) OpenDialog(trigger, dialogID string) {
	b.t.Helper()
	open := `(() => { const d = document.getElementById(` + strconv.Quote(dialogID) + `); return !!d && d.open; })()`
	for try := 0; try < 3; try++ {
		b.Click(trigger)
		ctx, cancel := context.WithTimeout(b.Ctx(), 3*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](open))
		cancel()
		if err == nil {
			return
		}
	}
	b.t.Fatalf("browsertest: dialog %s did not open from %s", dialogID, trigger)
}

// Fill replaces the value of the input or textarea matching the CSS selector
// by typing value into it (so input events fire). Typing goes to whatever has
// focus, and page script may move focus while the keys are on their way (a
// dialog closing hands focus back to its trigger in its close event), so it
// checks what the field holds and types again, three times at most.
func (b *Browser) Fill(selector, value string) {
	b.t.Helper()
	sel := chromedp.CSS(selector)
	// (chromedp.SetValue(sel, "") reports a failure for the empty string.)
	clear := `(() => {
		const el = document.querySelector(` + strconv.Quote(selector) + `);
		if (!el || !("value" in el)) return false;
		el.value = "";
		el.dispatchEvent(new Event("input", {bubbles: true}));
		return true;
	})()`
	read := `(() => { const el = document.querySelector(` + strconv.Quote(selector) + `); return el ? String(el.value) : ""; })()`
	var got string
	for try := 0; try < 3; try++ {
		b.Run(chromedp.WaitVisible(sel), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			ok, err := chromedp.Evaluate[bool](clear)(ctx, t)
			if err == nil && !ok {
				err = fmt.Errorf("fill %q: not an input, textarea or select", selector)
			}
			return err
		}), chromedp.SendKeys(sel, value))
		got = get(b, chromedp.Evaluate[string](read))
		if got == value {
			return
		}
	}
	b.t.Fatalf("browsertest: fill %s: typed %q, the field holds %q", selector, value, got)
}

// CloseDialog closes the open <dialog> with id dialogID with its close
// button and waits until the page has handled the close (focus back on the
// trigger), so that what the test types next is not taken from it.
func (b *Browser) CloseDialog(dialogID string) {
	b.t.Helper()
	b.Click("#" + dialogID + " [data-dialog-close]")
	settled := `(() => { const d = document.getElementById(` + strconv.Quote(dialogID) + `);
		return !!d && !d.open && !d.contains(document.activeElement); })()`
	get(b, chromedp.Poll[bool](settled))
	// The close event is a queued task: let the tasks queued so far run.
	get(b, chromedp.Evaluate[bool](`new Promise(r => setTimeout(() => r(true), 0))`, chromedp.EvalAwaitPromise))
}

// Submit submits the form matching the CSS selector, or the form of the
// element matching it (a submit button is then the submitter), the way a
// user does: submit handlers (htmx) and validation run. It does not wait for
// the next page: use b.RunResponse(SubmitForm(selector)) for that.
func (b *Browser) Submit(selector string) {
	b.t.Helper()
	b.Run(SubmitForm(selector))
}

// SubmitForm is the action behind Submit, for RunResponse and Run.
func SubmitForm(selector string) chromedp.Action[chromedp.Void] {
	js := `(() => {
		const el = document.querySelector(` + strconv.Quote(selector) + `);
		if (!el) return "no element matches the selector";
		const form = el.nodeName === "FORM" ? el : el.form;
		if (!form) return "the element is neither a form nor in one";
		const submitter = el !== form && (el.type === "submit" || el.type === "image") ? el : null;
		form.requestSubmit(submitter);
		return "";
	})()`
	return chromedp.Steps(
		chromedp.WaitReady(chromedp.CSS(selector)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			msg, err := chromedp.Evaluate[string](js)(ctx, t)
			if err == nil && msg != "" {
				err = fmt.Errorf("submit %q: %s", selector, msg)
			}
			return err
		}),
	)
}

// WaitVisible waits until an element matching the CSS selector is visible.
func (b *Browser) WaitVisible(selector string) {
	b.t.Helper()
	b.Run(chromedp.WaitVisible(chromedp.CSS(selector)))
}

// Location returns the URL of the current page.
func (b *Browser) Location() string {
	b.t.Helper()
	return get(b, chromedp.Location())
}

// Screenshot saves a full-page PNG of the current page as
// screenshots/<TestName>/<name>.png under the repository root, and logs the
// path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	return b.screenshot(b.t, name)
}

// screenshot saves under t's name (a subtest's own folder).
func (b *Browser) screenshot(t testing.TB, name string) string {
	t.Helper()
	png := get(b, chromedp.FullScreenshot(100))
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("browsertest: screenshot: %v", err)
	}
	dir := filepath.Join(root, "screenshots", safePath(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browsertest: screenshot: %v", err)
	}
	path := filepath.Join(dir, safeName(name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browsertest: screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// get runs one action that returns a value, like Run.
func get[T any](b *Browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fatal(err)
	}
	return v
}

// fatal fails the test with err and the page the browser is on.
func (b *Browser) fatal(err error) {
	b.t.Helper()
	where := "unknown page"
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	if loc, lerr := chromedp.Run(ctx, chromedp.Location()); lerr == nil {
		where = loc
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w (timeout %v)", err, Timeout)
	}
	msg := fmt.Sprintf("browsertest: %v\n  on page %s", err, where)
	if ctx.Err() != nil || b.ctx.Err() != nil {
		msg += "\nbrowser output:\n" + b.out.String()
	}
	b.t.Fatal(msg)
}

// listen logs the page's uncaught exceptions and console errors, which
// explain many failures.
func (b *Browser) listen() {
	_ = chromedp.Listen(b.ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text = d.Exception.Description
			}
			b.log.logf("browser: uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeWarning {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			b.log.logf("browser: console.%s: %s", ev.Type, strings.Join(parts, " "))
		}
	})
}

// findChromium returns the Chromium binary, or an error saying how to get it.
func findChromium() (string, error) {
	for _, name := range []string{"/usr/bin/chromium", "chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("browsertest: Chromium is not installed, and page tests need it (they are never skipped): " +
		"run `go tool task test` (which installs it), or as root `apt-get install chromium`")
}

// repoRoot walks up from the working folder (the package's, under go test)
// to the folder holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working folder")
		}
		dir = parent
	}
}

// safePath keeps a test name (with / between subtests) usable as nested
// folders.
func safePath(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = safeName(p)
	}
	return filepath.Join(parts...)
}

func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
	s = strings.Trim(s, ".")
	if s == "" {
		s = "_"
	}
	return s
}

// killLeftovers kills processes still running with this profile folder.
func killLeftovers(profile string) {
	want := []byte("--user-data-dir=" + profile)
	deadline := time.Now().Add(2 * time.Second)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		found := 0
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil {
				continue
			}
			for _, arg := range strings.Split(string(cmdline), "\x00") {
				if arg == string(want) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					found++
					break
				}
			}
		}
		if found == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}

// testLog forwards to t.Logf until the test's cleanup has run: chromedp's
// goroutines may log later, when t.Logf would panic.
type testLog struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (l *testLog) logf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf(format, a...)
	}
}

func (l *testLog) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Choose picks an option of a select and fires input and change, as a person
// choosing does (htmx listens for change). It fails when the select or the
// option does not exist.
func (b *Browser) Choose(selector, value string) {
	b.t.Helper()
	js := `(() => {
		const el = document.querySelector(` + strconv.Quote(selector) + `);
		if (!el || ![...el.options].some(o => o.value === ` + strconv.Quote(value) + `)) return false;
		el.focus();
		el.value = ` + strconv.Quote(value) + `;
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`
	b.Run(chromedp.WaitVisible(chromedp.CSS(selector)), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		ok, err := chromedp.Evaluate[bool](js)(ctx, t)
		if err == nil && !ok {
			err = fmt.Errorf("choose %q in %q: no such select or option", value, selector)
		}
		return err
	}))
}

// SignIn signs in through Guildhall's two-step sign-in form at baseURL (the
// email, then the password) and waits for the page it leads to. An email at
// a verified SSO domain goes to its identity provider instead: use
// SignInWithPassword for the password path such accounts have.
func (b *Browser) SignIn(baseURL, email, password string) {
	b.t.Helper()
	b.signIn(baseURL+"/login", email, password)
}

// SignInWithPassword signs in by /login?password=1, the password path the
// "identity provider unavailable" page offers (owners' break-glass): its
// email step never routes to single sign-on.
func (b *Browser) SignInWithPassword(baseURL, email, password string) {
	b.t.Helper()
	b.signIn(baseURL+"/login?password=1", email, password)
}

func (b *Browser) signIn(loginURL, email, password string) {
	b.t.Helper()
	b.Navigate(loginURL)
	b.Fill("#f-email", email)
	b.RunResponse(SubmitForm("#f-email"))
	b.Fill("#f-password", password)
	b.RunResponse(SubmitForm("#f-password"))
}
