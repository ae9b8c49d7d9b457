package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/xmodal/xmodal/indexer"
)

// progressPrinter renders the progress of work on images on stderr: a bar redrawn in
// place on a terminal, or a plain line every few seconds in a log.
type progressPrinter struct {
	label    string // what it is doing: "indexing" unless set
	w        io.Writer
	tty      bool
	last     time.Time
	interval time.Duration
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	interval := 5 * time.Second
	if tty {
		interval = 200 * time.Millisecond
	}
	return &progressPrinter{label: "indexing", w: w, tty: tty, interval: interval}
}

func (p *progressPrinter) update(pr indexer.Progress) {
	final := pr.Done == pr.Total
	if !final && time.Since(p.last) < p.interval {
		return
	}
	p.last = time.Now()
	rate := float64(pr.Done) / pr.Elapsed.Seconds()
	eta := "--"
	if !final {
		eta = etaString(float64(pr.Total-pr.Done), rate)
	}
	pct := 100.0
	if pr.Total > 0 {
		pct = 100 * float64(pr.Done) / float64(pr.Total)
	}
	skipped := ""
	if pr.Skipped > 0 {
		skipped = fmt.Sprintf(", %d skipped", pr.Skipped)
	}
	status := fmt.Sprintf("%d/%d images (%.0f%%%s), %.1f images/s, ETA %s", pr.Done, pr.Total, pct, skipped, rate, eta)
	if p.tty {
		const width = 30
		filled := int(pct / 100 * width)
		bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
		fmt.Fprintf(p.w, "\r\033[K%s %s %s", p.label, bar, status)
		if final {
			fmt.Fprintln(p.w)
		}
		return
	}
	fmt.Fprintf(p.w, "%s: %s\n", p.label, status)
}

// byteProgress renders a download: file, bytes, rate and ETA.
type byteProgress struct {
	w     io.Writer
	tty   bool
	file  string
	start time.Time
	last  time.Time
	shown bool
}

func newByteProgress(w io.Writer) *byteProgress {
	return &byteProgress{w: w, tty: newProgressPrinter(w).tty}
}

func (p *byteProgress) update(file string, done, total int64) {
	if file != p.file {
		if p.shown && p.tty {
			fmt.Fprintln(p.w)
		}
		p.file, p.start, p.last, p.shown = file, time.Now(), time.Time{}, false
	}
	interval := 5 * time.Second
	if p.tty {
		interval = 200 * time.Millisecond
	}
	if done != total && time.Since(p.last) < interval {
		return
	}
	p.last = time.Now()
	p.shown = true
	rate := float64(done) / time.Since(p.start).Seconds()
	status := fmt.Sprintf("%s: %s", file, humanBytes(done))
	if total > 0 {
		status += fmt.Sprintf(" of %s (%.0f%%)", humanBytes(total), 100*float64(done)/float64(total))
		if rate > 0 && done < total {
			status += fmt.Sprintf(", %s/s, ETA %s", humanBytes(int64(rate)), etaString(float64(total-done), rate))
		}
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", status)
	} else {
		fmt.Fprintln(p.w, status)
	}
}

func (p *byteProgress) done() {
	if p.shown && p.tty {
		fmt.Fprintln(p.w)
	}
}

// etaString is the time left for remaining units at rate units per second.
func etaString(remaining, rate float64) string {
	if rate <= 0 {
		return "--"
	}
	return time.Duration(remaining / rate * float64(time.Second)).Round(time.Second).String()
}

// rateReporter prints "inserted 1234/5678 (21%), 950/s, ETA 4s" to stderr
// at most once a second.
type rateReporter struct {
	w     io.Writer
	what  string
	total int
	start time.Time
	last  time.Time
	mu    sync.Mutex
}

func newRateReporter(w io.Writer, what string, total int) *rateReporter {
	now := time.Now()
	return &rateReporter{w: w, what: what, total: total, start: now, last: now}
}

func (r *rateReporter) update(done int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.last) < time.Second {
		return
	}
	r.last = time.Now()
	rate := float64(done) / time.Since(r.start).Seconds()
	fmt.Fprintf(r.w, "%s %d/%d (%.0f%%), %.0f/s, ETA %s\n", r.what, done, r.total, 100*float64(done)/float64(max(1, r.total)), rate, etaString(float64(r.total-done), rate))
}
