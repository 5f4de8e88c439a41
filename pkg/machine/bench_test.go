package machine

import (
	"context"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// BenchmarkSetWeight is the cost of one weight step without Argo CD: read
// the release from a real git server on loopback, render the app with
// kustomize in-process (twice: the user's view and the result), commit and
// push. `make bench` prints it.
func BenchmarkSetWeight(b *testing.B) {
	w := newWorld(b)
	m := w.machine(b)
	ctx := context.Background()
	if _, err := m.Start(ctx, testRelease(b)); err != nil {
		b.Fatal(err)
	}
	if _, err := m.Run(ctx, func(o Outcome) bool { return o.Release.Status.Phase == release.Routing }, nil); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		if _, err := m.SetWeight(ctx, int32(i%99+1)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlan renders every state of the fixture release in memory.
func BenchmarkPlan(b *testing.B) {
	ctx := context.Background()
	app := fixtureApp(b)
	r := testRelease(b)
	m := New(Deps{}, "reviews-v2", "apps/reviews")
	for b.Loop() {
		if _, err := m.Plan(ctx, app, r); err != nil {
			b.Fatal(err)
		}
	}
}
