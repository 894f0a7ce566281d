package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLineReporter(t *testing.T) {
	tests := []struct {
		name      string
		step      time.Duration // clock advance per report
		wantLines int
	}{
		{name: "fast work prints the start and the end", step: time.Millisecond, wantLines: 2},
		{name: "slow work prints the start and each tenth", step: time.Second, wantLines: 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			clock := time.Unix(0, 0)
			now := func() time.Time { return clock }
			report, finish := lineReporter(&buf, "work", now, 5*time.Second)
			for done := 1; done <= 100; done++ {
				clock = clock.Add(tt.step)
				report(done, 100)
			}
			finish()
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != tt.wantLines {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), tt.wantLines, buf.String())
			}
			if !strings.HasPrefix(lines[len(lines)-1], "work: 100/100 (100%)") {
				t.Fatalf("last line %q", lines[len(lines)-1])
			}
		})
	}
}
