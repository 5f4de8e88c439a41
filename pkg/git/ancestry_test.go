package git

import (
	"context"
	"errors"
	"testing"
)

// TestContainsAndAt: a commit pushed by another writer after this process's
// last fetch is fetched on demand; ancestry is answered both ways.
func TestContainsAndAt(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	r := e.open(t, t.TempDir())
	base := e.head(t)
	e.srv.Push(t, e.name, map[string][]byte{"apps/ratings/cm.yaml": []byte("a: 1\n")}, "another app")
	mid := e.head(t)
	e.srv.Push(t, e.name, map[string][]byte{"apps/ratings/cm.yaml": []byte("a: 2\n")}, "another app again")
	tip := e.head(t)

	for _, c := range []struct {
		a, d string
		want bool
	}{
		{base, base, true},
		{base, tip, true},
		{mid, tip, true},
		{tip, base, false},
		{tip, mid, false},
	} {
		got, err := r.Contains(ctx, c.a, c.d)
		if err != nil {
			t.Fatalf("Contains(%s, %s): %v", short(c.a), short(c.d), err)
		}
		if got != c.want {
			t.Errorf("Contains(%s, %s) = %v, want %v", short(c.a), short(c.d), got, c.want)
		}
	}

	snap, err := r.At(ctx, mid)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := snap.ReadFile("apps/ratings/cm.yaml"); err != nil || string(data) != "a: 1\n" {
		t.Errorf("At(mid) cm.yaml = %q, %v", data, err)
	}

	_, err = r.At(ctx, "0123456789012345678901234567890123456789")
	if !errors.Is(err, ErrUnknownCommit) {
		t.Errorf("At(unknown) = %v, want ErrUnknownCommit", err)
	}
	if _, err := r.Contains(ctx, "main", tip); err == nil {
		t.Error("Contains with a branch name: want an error")
	}
}
