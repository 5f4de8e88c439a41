package machine

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// The fuzz targets of this package feed what people and bots write to git
// into the code that reads it: the user's routing and kustomization, and
// gitcanary's own record and state, which live in the same repository and
// can be edited, merged badly or truncated. Any error is fine; a panic or
// a hang is a bug. `make fuzz` runs each for a while; `go test` replays the
// seeds below and testdata/fuzz/<target>.

const (
	vsPath = "apps/reviews/virtualservice.yaml"
	drPath = "apps/reviews/destinationrule.yaml"
	kzPath = "apps/reviews/kustomization.yaml"
)

// FuzzPlan plans a whole release (discovery of the routing, every weight
// step, the rewrite of the user's VirtualServices and DestinationRule, the
// hand-back of the promoted and abandoned ends) of the fixture app with
// its VirtualService, DestinationRule and root kustomization replaced.
func FuzzPlan(f *testing.F) {
	app := fixtureApp(f)
	f.Add(app.Files[vsPath], app.Files[drPath], app.Files[kzPath])
	f.Add([]byte("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec:\n  hosts: [reviews]\n  http: [x]\n"), app.Files[drPath], app.Files[kzPath])
	f.Add(app.Files[vsPath], app.Files[drPath], []byte("- resources\n- deployment.yaml\n"))
	rel := testRelease(f)
	f.Fuzz(func(t *testing.T, vs, dr, kz []byte) {
		files := maps.Clone(app.Files)
		files[vsPath], files[drPath], files[kzPath] = vs, dr, kz
		a, err := NewApp("fuzz", "apps/reviews", files)
		if err != nil {
			return
		}
		r := *rel
		_, _ = New(Deps{}, "reviews-v2", "apps/reviews").Plan(context.Background(), a, &r)
	})
}

// FuzzRecord loads a release record and the component's state file as a
// resumed process would, then decides the next step on them and drafts
// every command a person can give (approve, set-weight, promote, abort).
func FuzzRecord(f *testing.F) {
	ctx := context.Background()
	app := fixtureApp(f)
	states, err := New(Deps{}, "reviews-v2", "apps/reviews").Plan(ctx, app, testRelease(f))
	if err != nil {
		f.Fatal(err)
	}
	record := app.RecordPath("reviews-v2")
	stateFile := app.dir(overlay.StateFile)
	for _, s := range states {
		f.Add(s.App.Files[record], s.App.Files[stateFile])
	}
	// What people do to records: drop the status, move the step cursor
	// past the steps, pause on a weight step, truncate.
	rec, st := string(states[1].App.Files[record]), states[1].App.Files[stateFile]
	if i := strings.Index(rec, "\nstatus:"); i > 0 {
		f.Add([]byte(rec[:i+1]), st)
		f.Add([]byte(rec[:i+len("\nstatus:")+3]), st)
	}
	f.Add([]byte(strings.Replace(rec, "\n  step: 0\n", "\n  step: 99\n", 1)), st)
	f.Add([]byte(strings.Replace(rec, "\n  phase: Progressing\n", "\n  phase: Paused\n", 1)), st)
	f.Add([]byte(rec), []byte("versions: [{version: v1}]\n"))
	f.Fuzz(func(t *testing.T, rec, state []byte) {
		files := maps.Clone(app.Files)
		files[record] = rec
		if state != nil {
			files[stateFile] = state
		}
		a, err := NewApp("fuzz", "apps/reviews", files)
		if err != nil {
			return
		}
		r, err := a.Record("reviews-v2")
		if err != nil || r == nil {
			return
		}
		m := New(Deps{}, "reviews-v2", "apps/reviews")
		now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
		d := decide(view{rec: r, state: a.State, now: now, argo: argocd.Verdict{State: argocd.Converged, Applied: true}})
		muts := []mutation{approve, setWeight(50), promoteRoutes("fuzz"), abandon("Aborted", "fuzz")}
		if d.mutate != nil {
			muts = append(muts, d.mutate)
		}
		for _, mut := range muts {
			_, _, _ = m.draft(ctx, a, atHead, mut, now)
		}
		_ = awaitsApproval(r)
		_ = release.FormatWeights(r.Status.Weights)
	})
}
