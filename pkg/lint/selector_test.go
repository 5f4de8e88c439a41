package lint

import "testing"

func TestSelector(t *testing.T) {
	const withVersion = svcFile + "spec.selector includes version: v1, so the Service selects only that version " +
		"and a new version could never get traffic through it; remove version from the selector " +
		"(the DestinationRule's subsets split traffic by version)"
	const noSelector = svcFile + "has no spec.selector, so no pod is behind it for gitcanary to route to; " +
		"select the pods of every version by a label they share (such as app), not by version"
	tests := []struct {
		name string
		spec string
		want []string
	}{
		{name: "app only", spec: goodSpec},
		{name: "several labels without version", spec: `  selector: {app: reviews, tier: backend}
  ports: [{name: http, port: 9080}]
`},
		{name: "version in the selector", spec: `  selector:
    app: reviews
    version: v1
  ports: [{name: http, port: 9080}]
`, want: []string{withVersion}},
		{name: "no selector", spec: `  ports: [{name: http, port: 9080}]
`, want: []string{noSelector}},
		{name: "empty selector", spec: `  selector: {}
  ports: [{name: http, port: 9080}]
`, want: []string{noSelector}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Selector(reviews(t, serviceYAML(tt.spec)))
			expect(t, got, tt.want...)
			for _, f := range got {
				if f.Severity != Error || f.Check != CheckServiceSelector {
					t.Errorf("%s: severity %s, check %s; want error, %s", f, f.Severity, f.Check, CheckServiceSelector)
				}
			}
		})
	}
}

func TestSelectorSkipsVMs(t *testing.T) {
	for _, spec := range []string{
		"  selector: {app: reviews, version: v1}\n  ports: [{name: http, port: 9080}]\n",
		"  ports: [{name: http, port: 9080}]\n",
	} {
		in := reviews(t, serviceYAML(spec))
		in.Kind = builtin(t, "networking.istio.io", "WorkloadGroup")
		expect(t, Selector(in))
		in.Kind = builtin(t, "apps", "Deployment")
		if len(Selector(in)) != 1 {
			t.Errorf("the same Service with a Deployment: %v, want one error", Selector(in))
		}
	}
}

func TestSelectorServiceMissing(t *testing.T) {
	in := reviews(t, serviceYAML(goodSpec))
	in.Host = "reviews.frontend.svc.cluster.local"
	got := Selector(in)
	expect(t, got, "Service frontend/reviews: not rendered by apps/reviews, so its ports and selector were not checked; "+
		"if another app deploys it, name its ports for their protocol there and keep version out of its selector")
	if len(got) == 1 && got[0].Severity != Warning {
		t.Errorf("severity %s, want warning", got[0].Severity)
	}
}
