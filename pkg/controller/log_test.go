package controller

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// errorLog is a slog handler that keeps the first error records.
type errorLog struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (e *errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (e *errorLog) Handle(_ context.Context, r slog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.first) < 5 {
		msg := r.Message
		r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
		e.first = append(e.first, msg)
	}
	return nil
}

func (e *errorLog) WithAttrs([]slog.Attr) slog.Handler { return e }
func (e *errorLog) WithGroup(string) slog.Handler      { return e }

func (e *errorLog) count() int { e.mu.Lock(); defer e.mu.Unlock(); return e.n }

func (e *errorLog) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return fmt.Sprintf("%d, first: %s", e.n, strings.Join(e.first, "; "))
}
