package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/templates"
)

// fixtureFiles returns the fixture app's files with edits applied: each
// edit replaces old with new in a file ("" old writes the file whole).
func fixtureFiles(t *testing.T, edits []edit) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(fixtures.Apps, "apps", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files[p], err = fs.ReadFile(fixtures.Apps, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		files[e.file] = []byte(e.apply(t, string(files[e.file])))
	}
	return files
}

type edit struct{ file, old, new string }

// cut as an edit's new text cuts the file before old.
const cut = "\x00cut"

// apply returns data edited: replaced whole when old is "", else cut
// before old or old replaced once by new; data must hold old.
func (e edit) apply(t *testing.T, data string) string {
	t.Helper()
	if e.old == "" {
		return e.new
	}
	i := strings.Index(data, e.old)
	switch {
	case i < 0:
		t.Fatalf("%s has no %q:\n%s", e.file, e.old, data)
	case e.new == cut:
		return data[:i]
	}
	return strings.Replace(data, e.old, e.new, 1)
}

var editPrefix = regexp.MustCompile(`^gitcanary: edit main of git://127\.0\.0\.1:\d+/case\.git at [0-9a-f]{8}: `)

func example(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestPreconditions: every precondition of a release has its own message,
// lint and start report it with exit code 2, and nothing is committed.
func TestPreconditions(t *testing.T) {
	const (
		kust = "apps/reviews/kustomization.yaml"
		svc  = "apps/reviews/service.yaml"
		dep  = "apps/reviews/deployment.yaml"
	)
	dcConfig := filepath.Join("..", "..", "examples", "config", "custom-workloads.yaml")
	namespace := func(label string) []edit {
		return []edit{
			{file: "apps/reviews/namespace.yaml", new: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bookinfo\n  labels:\n    " + label + "\n"},
			{file: kust, old: "resources:\n", new: "resources:\n  - namespace.yaml\n"},
		}
	}
	tests := []struct {
		name   string
		edits  []edit
		params templates.ReleaseParams
		kind   string
		config bool
		stable string // spec.stableVersion
		want   string // stderr of lint and start
		lint   string // lines lint prints before the error
	}{
		{
			name:  "service selects one version",
			edits: []edit{{file: svc, old: "  selector:\n    app: reviews\n", new: "  selector:\n    app: reviews\n    version: v1\n"}},
			lint:  "error: apps/reviews/service.yaml: Service bookinfo/reviews: spec.selector includes version: v1, so the Service selects only that version and a new version could never get traffic through it; remove version from the selector (the DestinationRule's subsets split traffic by version)\n",
		},
		{
			name:  "port without protocol",
			edits: []edit{{file: svc, old: "- name: http\n", new: "- name: web\n"}},
			lint:  "error: apps/reviews/service.yaml: Service bookinfo/reviews: port 9080 is named \"web\": Istio picks the protocol from the port name; name it http-web (or http, grpc, tcp…, optionally with a -suffix) or set appProtocol\n",
		},
		{
			name:  "namespace disables injection",
			edits: namespace("istio-injection: disabled"),
			lint: "error: apps/reviews/namespace.yaml: Namespace bookinfo: label istio-injection=disabled turns sidecar injection off for every pod in the namespace, and no pod label or annotation turns it back on " +
				"(not even the sidecar.istio.io/inject: \"true\" gitcanary sets on new versions), so new versions would run without a sidecar; remove the label, then opt the pods in with istio-injection=enabled on the namespace " +
				"or the label sidecar.istio.io/inject: \"true\" on the stable Deployment's pod template\n",
		},
		{
			name:   "workload missing",
			params: templates.ReleaseParams{Workload: "reviews-v9"},
			want:   "gitcanary: Deployment reviews-v9 not found in the rendered manifests of apps/reviews; check spec.workload\n",
		},
		{
			name:  "no VirtualService",
			edits: []edit{{file: kust, old: "  - virtualservice.yaml\n", new: ""}},
			want:  "gitcanary: no VirtualService for host reviews in apps/reviews; add one, or start with --generate-routing to have gitcanary write it\n",
		},
		{
			name:  "no DestinationRule",
			edits: []edit{{file: kust, old: "  - destinationrule.yaml\n", new: ""}},
			want:  "gitcanary: no DestinationRule for host reviews in apps/reviews; add one, or start with --generate-routing to have gitcanary write it\n",
		},
		{
			name:  "custom kind without config",
			edits: []edit{{file: dep, new: example(t, "workloads/cloneset.yaml")}},
			kind:  "CloneSet",
			want:  "gitcanary: RELEASE: invalid release:\n  spec.workload.kind: unknown workload kind \"CloneSet\"; built in: Deployment, StatefulSet, DaemonSet, WorkloadGroup (others are configured as custom workloads)\n",
		},
		{
			name: "pod template without version label",
			edits: []edit{{file: dep, new: strings.NewReplacer("  selector:\n    app: reviews\n    version: v1\n", "  selector:\n    app: reviews\n",
				"        version: v1\n        sidecar", "        sidecar").Replace(example(t, "workloads/deploymentconfig.yaml"))}},
			kind: "DeploymentConfig", config: true,
			want: "gitcanary: DeploymentConfig reviews-v1 has no \"version\" label on its pod template: set spec.stableVersion to name its subset (gitcanary then adds the label, a normal rolling update)\n",
		},
		{
			name: "pod template without labels",
			edits: []edit{{file: dep, new: strings.Replace(example(t, "workloads/deploymentconfig.yaml"),
				"    metadata:\n      labels:\n        app: reviews\n        version: v1\n        sidecar.istio.io/inject: \"true\"\n", "    metadata: {}\n", 1)}},
			kind: "DeploymentConfig", config: true, stable: "v1",
			want: "gitcanary: DeploymentConfig reviews-v1: the pod template at .spec.template has no labels; subsets select a version's pods by label, so it cannot be released (add labels such as app: reviews, or fix the kind's podTemplate path)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newCLIWorld(t)
			w.url = w.server.CreateRepo(t, "case.git", fixtureFiles(t, tt.edits))
			file := w.writeRelease("r.yaml", tt.params)
			if tt.kind != "" || tt.stable != "" {
				data := string(mustRead(t, file))
				if tt.kind != "" {
					data = strings.Replace(data, "kind: Deployment,", "kind: "+tt.kind+",", 1)
				}
				if tt.stable != "" {
					data = strings.Replace(data, "  version: v2\n", "  version: v2\n  stableVersion: "+tt.stable+"\n", 1)
				}
				if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var cfg []string
			if tt.config {
				cfg = []string{"--config", dcConfig}
			}
			want := strings.ReplaceAll(tt.want, "RELEASE", file)
			code, out, errs := w.run(append(cfg, "lint", "-f", file)...)
			if tt.lint != "" {
				want = "gitcanary: " + file + ": 1 error(s) stop release reviews-v2\n"
			}
			if code != ExitInvalid || out != tt.lint || errs != want {
				t.Errorf("lint: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 2, stdout:\n%s\nstderr:\n%s", code, out, errs, tt.lint, want)
			}
			code, _, errs = w.run(append(cfg, "start", "-f", file, "--wait-for=none")...)
			if tt.lint != "" {
				want = "gitcanary: the app is not ready for a canary release (run `gitcanary lint`):\n  " + strings.TrimPrefix(tt.lint, "error: ")
			}
			// start names the branch and commit it read; lint does not.
			errs = editPrefix.ReplaceAllString(errs, "gitcanary: ")
			if code != ExitInvalid || errs != want {
				t.Errorf("start: exit %d\nstderr:\n%s\nwant exit 2, stderr:\n%s", code, errs, want)
			}
			if n := len(w.server.Commits(t, "case.git")); n != 1 {
				t.Errorf("%d commits; want the initial one only", n)
			}
		})
	}
}
