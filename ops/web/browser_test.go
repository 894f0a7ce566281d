package web

import (
	"bytes"
	"context"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"dreamrank/foundation/testenv"
)

// chromium finds Debian's browser, which `make setup-test` installs: a test
// never installs it itself. Missing, it fails the test under CI (the browser
// test is part of `make test` and CI, not optional) and skips elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	return testenv.Program(t, "chromium (Debian's package)", nil, "/usr/bin/chromium", "chromium")
}

// headless runs chromium headless with the flags the issue names, and its
// own profile directory so parallel runs do not share a profile lock.
func headless(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--no-first-run", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestBrowser serves a report through the UI and loads it in headless
// chromium: the leaderboard and the plots must be in the DOM the browser
// built, and a screenshot is saved under the test's temp dir (and copied to
// $DREAMRANK_ARTIFACTS when set, for CI).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short: it drives headless chromium (installed by make setup-test)")
	}
	bin := chromium(t)
	reports := &memReports{}
	reports.Add(sampleReport(t))
	srv := httptest.NewServer(New(Options{Reports: reports, Jobs: testJobs(t), Fleet: memFleet{}}))
	defer srv.Close()

	start := time.Now()
	dom := string(headless(t, bin, "--dump-dom", srv.URL+"/"))
	t.Logf("dump-dom took %v, %d bytes", time.Since(start).Round(time.Millisecond), len(dom))
	rowRe := regexp.MustCompile(`(?s)<table id="leaderboard">.*?</table>`)
	table := rowRe.FindString(dom)
	if table == "" {
		t.Fatalf("no leaderboard table in the DOM: %.500s", dom)
	}
	if rows := strings.Count(table, "<tr>"); rows != 6 { // header + 5 arms
		t.Errorf("leaderboard has %d rows, want a header and 5 arms", rows)
	}
	for _, id := range []string{"plot-success", "plot-agreement", "plot-history"} {
		re := regexp.MustCompile(`(?s)<figure class="plot" id="` + id + `"><svg[^>]*>.+?</svg>`)
		if !re.MatchString(dom) {
			t.Errorf("plot %s missing from the DOM or without an <svg>", id)
		}
	}
	if !strings.Contains(dom, `src="data:image/gif;base64,`) {
		t.Error("no rollout preview in the DOM")
	}

	shot := filepath.Join(t.TempDir(), "report.png")
	headless(t, bin, "--window-size=1280,2600", "--hide-scrollbars", "--screenshot="+shot, srv.URL+"/")
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 1000 {
		t.Errorf("screenshot is %v", b)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(data))
	if dir := os.Getenv("DREAMRANK_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			dst := filepath.Join(dir, "report-ui.png")
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Errorf("artifact: %v", err)
			} else {
				t.Logf("screenshot copied to %s", dst)
			}
		}
	}
}
