package git

import (
	"context"
	"fmt"
	"testing"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/git/gittest"
)

// BenchmarkApply measures one release step as gitcanary makes it: fetch,
// dedupe walk, edit of one file in the fixture app, commit and push, all
// against git daemon on loopback.
func BenchmarkApply(b *testing.B) {
	srv := gittest.NewServer(b)
	url := srv.CreateRepoFS(b, "apps.git", fixtures.Apps, "")
	r, err := Open(context.Background(), Options{URL: url, Branch: "main", CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		status := fmt.Appendf(nil, "status:\n  step: %d\n", i)
		res, err := r.Apply(context.Background(), func(head Snapshot) (Change, Message, error) {
			if _, err := head.ReadFile("apps/reviews/kustomization.yaml"); err != nil {
				return Change{}, Message{}, err
			}
			return Change{Write: map[string][]byte{"apps/reviews/.gitcanary/release.yaml": status}},
				Message{Subject: fmt.Sprintf("reviews-v2: step %d", i), Trailers: []Trailer{
					{TrailerRelease, "reviews-v2"}, {TrailerAction, fmt.Sprintf("step/%d", i)},
				}}, nil
		})
		if err != nil || res.Existing {
			b.Fatalf("Apply %d: %+v, %v", i, res, err)
		}
	}
}
