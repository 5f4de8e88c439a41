package release

import (
	"errors"
	"strings"
	"testing"
)

const validYAML = `apiVersion: gitcanary.io/v1alpha1
kind: Release
metadata:
  name: reviews-v2
spec:
  repo: {url: "git://127.0.0.1:9418/apps.git", branch: main, path: apps/reviews}
  argocd: {application: reviews}
  workload: {kind: Deployment, name: reviews-v1, namespace: bookinfo}
  version: v2
  images: [{name: example/reviews, newTag: "2.0"}]
  traffic: {host: reviews, gateways: [bookinfo-gateway, mesh]}
  steps:
    - setWeight: 10
    - pause: {duration: 2m}
    - setWeight: 50
    - pause: {}
  progressDeadline: 5m
`

func TestValidReleaseParsesAndValidates(t *testing.T) {
	r, err := Parse([]byte(validYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(r, ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := r.Spec.WorkloadName(); got != "reviews-v2" {
		t.Errorf("WorkloadName = %q, want reviews-v2", got)
	}
	if got := r.Spec.Steps[1].Pause.Duration.Duration.String(); got != "2m0s" {
		t.Errorf("pause duration = %s", got)
	}
	if got := r.Spec.Deadline().String(); got != "5m0s" {
		t.Errorf("deadline = %s", got)
	}
}

// TestInvalidReleases: each case edits the valid document and names the
// one message the user must see.
func TestInvalidReleases(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"wrong apiVersion", "gitcanary.io/v1alpha1", "gitcanary.io/v9", `apiVersion: must be gitcanary.io/v1alpha1, got "gitcanary.io/v9"`},
		{"wrong kind", "kind: Release", "kind: Rollout", `kind: must be Release, got "Rollout"`},
		{"missing name", "name: reviews-v2", "name: ''", "metadata.name: is required"},
		{"name not a DNS label", "name: reviews-v2", "name: Reviews_V2", `metadata.name: "Reviews_V2" is not a DNS-1123 label`},
		{"name too long", "name: reviews-v2", "name: " + strings.Repeat("a", 64), "metadata.name: \"" + strings.Repeat("a", 64) + "\" is not a DNS-1123 label: must be no more than 63 characters"},
		{"missing repo url", `url: "git://127.0.0.1:9418/apps.git", `, "", "spec.repo.url: is required"},
		{"unsupported scheme", "git://127.0.0.1", "ftp://127.0.0.1", `spec.repo.url: scheme "ftp" is not supported`},
		{"bad branch", "branch: main", "branch: 'main..x'", `spec.repo.branch: "main..x" is not a valid branch name`},
		{"missing path", ", path: apps/reviews", "", "spec.repo.path: is required"},
		{"absolute path", "path: apps/reviews", "path: /apps/reviews", `spec.repo.path: must be relative to the repository root, got "/apps/reviews"`},
		{"path escapes", "path: apps/reviews", "path: ../apps", `spec.repo.path: must stay inside the repository, got "../apps"`},
		{"missing application", "argocd: {application: reviews}", "argocd: {}", "spec.argocd.application: is required"},
		{"missing workload kind", "kind: Deployment, ", "", "spec.workload.kind: is required"},
		{"unknown workload kind", "kind: Deployment", "kind: Rollout", `spec.workload.kind: unknown workload kind "Rollout"`},
		{"missing workload name", "name: reviews-v1, ", "", "spec.workload.name: is required"},
		{"missing namespace", ", namespace: bookinfo", "", "spec.workload.namespace: is required"},
		{"missing version", "version: v2", "version: ''", "spec.version: is required"},
		{"invalid version label", "version: v2", "version: 'v2!'", `spec.version: "v2!" is not a valid label value`},
		{"version with upper case", "version: v2", "version: V2", `spec.version: "V2" must be a DNS-1123 label`},
		{"stable equals new", "version: v2", "version: v2\n  stableVersion: v2", `spec.stableVersion: must differ from spec.version ("v2")`},
		{"no images", `images: [{name: example/reviews, newTag: "2.0"}]`, "images: []", "spec.images: at least one image override is required"},
		{"image without name", `{name: example/reviews, newTag: "2.0"}`, `{newTag: "2.0"}`, "spec.images[0].name: is required"},
		{"image without change", `{name: example/reviews, newTag: "2.0"}`, `{name: example/reviews}`, "spec.images[0]: sets none of newName, newTag, digest"},
		{"bad tag", `newTag: "2.0"`, `newTag: "2.0 beta"`, `spec.images[0].newTag: "2.0 beta" is not a valid image tag`},
		{"duplicate image", `images: [{name: example/reviews, newTag: "2.0"}]`, `images: [{name: example/reviews, newTag: "2.0"}, {name: example/reviews, newTag: "3"}]`, `spec.images[1].name: image "example/reviews" is listed twice`},
		{"missing host", "host: reviews", "host: ''", "spec.traffic.host: is required"},
		{"invalid host", "host: reviews", "host: 'Reviews Svc'", `spec.traffic.host: "Reviews Svc" is not a DNS-1123 subdomain`},
		{"empty gateway", "gateways: [bookinfo-gateway, mesh]", "gateways: [bookinfo-gateway, '']", "spec.traffic.gateways[1]: is empty"},
		{"weight above 100", "setWeight: 50", "setWeight: 120", "spec.steps[2].setWeight: must be between 0 and 100, got 120"},
		{"negative weight", "setWeight: 10", "setWeight: -1", "spec.steps[0].setWeight: must be between 0 and 100, got -1"},
		{"step without action", "- pause: {}", "- {}", "spec.steps[3]: has no action; set exactly one of setWeight, pause, analysis"},
		{"step with two actions", "- setWeight: 50", "- {setWeight: 50, pause: {}}", "spec.steps[2]: has 2 actions; set exactly one of setWeight, pause, analysis"},
		{"zero pause", "duration: 2m", "duration: 0s", "spec.steps[1].pause.duration: must be positive, got 0s"},
		{"addresses on a Deployment", "namespace: bookinfo}", "namespace: bookinfo, addresses: [10.0.0.5]}", "spec.workload.addresses: only a WorkloadGroup has addresses (one WorkloadEntry per VM); Deployment pods get theirs from Kubernetes"},
		{"images on a WorkloadGroup", "kind: Deployment, name: reviews-v1", "kind: WorkloadGroup, name: reviews-v1", "spec.images: a WorkloadGroup has no images: the new version's software is installed on its VMs; remove spec.images"},
		{"bad VM address", "kind: Deployment, name: reviews-v1, namespace: bookinfo}\n  version: v2\n  images: [{name: example/reviews, newTag: \"2.0\"}]", "kind: WorkloadGroup, name: reviews-v1, namespace: bookinfo, addresses: [10.0.0.5, 'vm 2', 10.0.0.5]}\n  version: v2", `spec.workload.addresses[1]: "vm 2" is neither an IP address nor a DNS name` + "\n  " + `spec.workload.addresses[2]: "10.0.0.5" is listed twice`},
		{"alias not a DNS name", "gateways: [bookinfo-gateway, mesh]}", "gateways: [bookinfo-gateway, mesh], aliases: [Reviews_API]}", `spec.traffic.aliases[0]: "Reviews_API" is not a DNS name`},
		{"alias is the host", "gateways: [bookinfo-gateway, mesh]}", "gateways: [bookinfo-gateway, mesh], aliases: [reviews-api, reviews]}", `spec.traffic.aliases[1]: "reviews" is the service's own host, not an alias`},
		{"alias twice", "gateways: [bookinfo-gateway, mesh]}", "gateways: [bookinfo-gateway, mesh], aliases: [reviews-api, reviews-api]}", `spec.traffic.aliases[1]: "reviews-api" is listed twice`},
		{"zero deadline", "progressDeadline: 5m", "progressDeadline: 0s", "spec.progressDeadline: must be positive, got 0s"},
		{"status in input", "progressDeadline: 5m", "progressDeadline: 5m\nstatus: {phase: Paused}", "status: is written by gitcanary; remove it from the file"},
		{"invalid app", "version: v2", "version: v2\n  app: Reviews", `spec.app: "Reviews" is not a DNS-1123 label`},
		// Parse errors: strict decoding names the path.
		{"unknown field", "steps:", "stpes:", `spec.stpes: unknown field`},
		{"unknown nested field", "newTag:", "tag:", `spec.images[0].tag: unknown field`},
		{"duplicate field", "version: v2", "version: v2\n  version: v3", `line 10: key "version" already set in map`},
		{"weight as string", "setWeight: 10", "setWeight: ten", "spec.steps.setWeight: expected a whole number, got a string"},
		{"bad duration", "duration: 2m", "duration: soon", `invalid duration "soon"`},
		{"two documents", "progressDeadline: 5m", "progressDeadline: 5m\n---\nkind: Release", "expected one Release document"},
		{"not yaml", "steps:", "steps: [", "not valid YAML"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(validYAML, tc.old, tc.new, 1)
			if doc == validYAML {
				t.Fatalf("edit %q did not apply", tc.old)
			}
			r, err := Parse([]byte(doc))
			if err == nil {
				err = Validate(r, ValidateOptions{})
			}
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestTransitionTableCoversEveryPhase(t *testing.T) {
	all := []Phase{Preparing, Routing, Progressing, Paused, Promoting, Retiring, Promoted, Abandoning, Reverting, Abandoned}
	for _, p := range all {
		if _, ok := Transitions[p]; !ok {
			t.Errorf("phase %s missing from the transition table", p)
		}
	}
	for from, tos := range Transitions {
		for _, to := range tos {
			if _, ok := Transitions[to]; !ok {
				t.Errorf("%s → %s: target not in the table", from, to)
			}
		}
	}
	if err := Promoted.CanMoveTo(Abandoning); err == nil {
		t.Error("a promoted release must not be abandoned")
	}
	if err := Retiring.CanMoveTo(Abandoning); err == nil {
		t.Error("abandon after old workloads are gone must be refused")
	}
	for _, p := range []Phase{Preparing, Routing, Progressing, Paused, Promoting} {
		if err := p.CanMoveTo(Abandoning); err != nil {
			t.Errorf("abort must preempt %s: %v", p, err)
		}
	}
}
