package judgesim

import (
	"math/rand/v2"
	"testing"
)

func BenchmarkCell(b *testing.B) {
	for _, c := range []Cell{Headline, {RPS: 1000, Weight: 0.5, BadRate: 0.05, Burst: 1}, {RPS: 10, Weight: 0.1, BadRate: 0.01, Burst: 1}} {
		b.Run(c.String(), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			for b.Loop() {
				Release(r, c, 1, DefaultPlan())
			}
		})
	}
}
