package redact

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// Handler returns a slog.Handler that passes the message and every string
// and error value (in groups too, and LogValuers once resolved) through
// Text before h sees them. gitcanary's loggers, and controller-runtime's
// through them, are wrapped in it, so a URL a library puts in an error is
// logged without its credentials.
func Handler(h slog.Handler) slog.Handler { return &handler{next: h} }

type handler struct{ next slog.Handler }

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Text(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = attr(a)
	}
	return &handler{next: h.next.WithAttrs(clean)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name)}
}

func attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Text(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]slog.Attr, len(group))
		for i, g := range group {
			clean[i] = attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(clean...)}
	case slog.KindAny:
		// Errors, Stringers, slices and maps: as the handler would print
		// them, and only replaced when that text holds a credential.
		if s := fmt.Sprint(v.Any()); Text(s) != s {
			return slog.String(a.Key, Text(s))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// Writer returns w with every write passed through Text. gitcanary's
// command line writes whole lines, so a URL is never cut between writes.
func Writer(w io.Writer) io.Writer { return &writer{w: w} }

type writer struct{ w io.Writer }

func (w *writer) Write(p []byte) (int, error) {
	clean := Text(string(p))
	if _, err := io.WriteString(w.w, clean); err != nil {
		return 0, err
	}
	return len(p), nil
}
