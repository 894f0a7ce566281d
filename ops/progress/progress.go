// Package progress shows progress of long work on a terminal. Work reports
// through a plain func(done, total int) so packages doing the work never
// depend on how (or whether) progress is displayed.
package progress

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Func is the callback long-running work reports through.
type Func func(done, total int)

// Bar returns a Func that draws a progress bar with counts and ETA on w, and
// a finish function to call when the work ends. A nil w means stderr.
func Bar(w io.Writer, description string) (Func, func()) {
	if w == nil {
		w = os.Stderr
	}
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

// None discards progress.
func None(int, int) {}
