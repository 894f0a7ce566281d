// Package progress shows progress of long work. Work reports through a
// plain func(done, total int) so packages doing the work never depend on how
// (or whether) progress is displayed.
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Func is the callback long-running work reports through.
type Func func(done, total int)

// Bar returns a Func that shows progress with counts and ETA on w, and a
// finish function to call when the work ends. On a terminal it draws a bar;
// elsewhere (CI logs, files) it prints a plain line every tenth of the work
// at most every few seconds, so logs stay readable. A nil w means stderr.
func Bar(w io.Writer, description string) (Func, func()) {
	if w == nil {
		w = os.Stderr
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return terminalBar(w, description)
	}
	return lineReporter(w, description, time.Now, 5*time.Second)
}

func terminalBar(w io.Writer, description string) (Func, func()) {
	var bar *progressbar.ProgressBar
	report := func(done, total int) {
		if bar == nil {
			bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(description),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(200*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		_ = bar.Set(done)
	}
	finish := func() {
		if bar != nil {
			_ = bar.Finish()
		}
	}
	return report, finish
}

// lineReporter prints "description: done/total (p%), elapsed, ETA" lines
// when a new tenth of the work is done and at least every interval passed.
func lineReporter(w io.Writer, description string, now func() time.Time, every time.Duration) (Func, func()) {
	start := now()
	var last time.Time
	lastTenth := -1
	report := func(done, total int) {
		if total <= 0 {
			return
		}
		tenth := done * 10 / total
		t := now()
		if done < total && (tenth == lastTenth || t.Sub(last) < every) {
			return
		}
		lastTenth, last = tenth, t
		elapsed := t.Sub(start)
		eta := "?"
		if done > 0 {
			eta = (time.Duration(float64(elapsed) * float64(total-done) / float64(done))).Round(time.Second).String()
		}
		fmt.Fprintf(w, "%s: %d/%d (%d%%), %s elapsed, ETA %s\n", description, done, total, done*100/total, elapsed.Round(time.Second), eta)
	}
	return report, func() {}
}

// None discards progress.
func None(int, int) {}
