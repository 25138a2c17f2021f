package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const page = `<!doctype html>
<html><head><title>browsertest</title>
<style>body { font-family: sans-serif; margin: 2em } #out { color: #264; font-size: 2em }</style>
</head><body>
<h1>Hello</h1>
<p id="out">before</p>
<button id="go" onclick="document.getElementById('out').textContent = 'after'">Go</button>
<form id="f" action="/submitted" method="post" onsubmit="document.getElementById('out').textContent = 'submitting'">
  <input id="name" name="name" value="prefilled">
  <button id="send" type="submit" name="via" value="send">Send</button>
</form>
</body></html>`

func server(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, page)
	})
	mux.HandleFunc("POST /submitted", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><p id="result">name=%s via=%s</p>`, r.FormValue("name"), r.FormValue("via"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestClickChangesText(t *testing.T) {
	srv := server(t)
	t0 := time.Now()
	b := New(t)
	t.Logf("browser started in %v", time.Since(t0))

	b.Navigate(srv.URL)
	if got := b.Text("#out"); got != "before" {
		t.Fatalf("text before click = %q", got)
	}
	b.Click("#go")
	if got := b.Text("#out"); got != "after" {
		t.Fatalf("text after click = %q, want after", got)
	}
	path := b.Screenshot("after-click")
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("%s is not a PNG", path)
	}
	if want := filepath.Join("screenshots", "TestClickChangesText", "after-click.png"); !strings.HasSuffix(path, want) {
		t.Errorf("screenshot path %s does not end in %s", path, want)
	}
	if root, _ := repoRoot(); !strings.HasPrefix(path, root+string(filepath.Separator)) {
		t.Errorf("screenshot %s is not under the repository root %s", path, root)
	}
}

func TestFillSubmitAndTabs(t *testing.T) {
	srv := server(t)
	b := New(t)
	b.Navigate(srv.URL)
	b.Fill("#name", "Ada Lovelace")
	if got := get(b, chromedp.Value(chromedp.CSS("#name"))); got != "Ada Lovelace" {
		t.Fatalf("value after Fill = %q", got)
	}
	resp := b.RunResponse(SubmitForm("#send"))
	if resp.Status != http.StatusOK {
		t.Errorf("status %d", resp.Status)
	}
	if got := b.Text("#result"); got != "name=Ada Lovelace via=send" {
		t.Errorf("result = %q", got)
	}
	if got := b.Location(); got != srv.URL+"/submitted" {
		t.Errorf("Location = %q", got)
	}

	// A second tab is independent of the first one's page.
	tab := b.NewTab()
	tab.Navigate(srv.URL)
	tab.WaitVisible("#go")
	if got := tab.Text("#out"); got != "before" {
		t.Errorf("new tab text = %q", got)
	}
	if got := b.Location(); got != srv.URL+"/submitted" {
		t.Errorf("first tab moved to %q", got)
	}
}
