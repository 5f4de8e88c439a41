package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/git/gittest"
	"github.com/gitcanary/gitcanary/templates"
)

// badInput is one thing a user could write wrong: in the app's files, in
// gitcanary's record of a release (edited by a person after the start), in
// the configuration file, in the Release file, or on the command line.
type badInput struct {
	name string
	// edits change the app's files before anything runs.
	edits []edit
	// started: the release is started first (one commit), then recorded
	// edits change gitcanary's files as a person's commit would.
	started  bool
	recorded []edit
	// release edits the Release document (old → new, once).
	release []edit
	// config is the content of a --config file ("" for none).
	config string
	// args is the command line; RELEASE, URL and CONFIG are replaced.
	// Default: start -f RELEASE --wait-for=none.
	args []string
	// want is the whole of stderr, with the "edit main of URL at HASH: "
	// prefix of commands that read the branch replaced by "gitcanary: ",
	// RELEASE and URL as in args.
	want string
}

var (
	// hashes in messages change with the repository's content.
	hashRE = regexp.MustCompile(`\b[0-9a-f]{8}\b`)
	urlRE  = regexp.MustCompile(`git://127\.0\.0\.1:\d+/case\.git`)
)

// TestBadInputCatalogue: every row is something a user could write; each
// gets exit code 2, the one message that says what is wrong and where,
// and nothing is committed (the branch head is unchanged).
func TestBadInputCatalogue(t *testing.T) {
	for _, tt := range catalogue {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newCLIWorld(t)
			w.url = w.server.CreateRepo(t, "case.git", fixtureFiles(t, tt.edits))
			file := w.writeRelease("r.yaml", templates.ReleaseParams{})
			if len(tt.release) > 0 {
				data := string(mustRead(t, file))
				for _, e := range tt.release {
					e.file = "the release"
					data = e.apply(t, data)
				}
				if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg := filepath.Join(t.TempDir(), "config.yaml")
			if tt.config != "" {
				if err := os.WriteFile(cfg, []byte(tt.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.started {
				if code, _, errs := w.run("start", "-f", file, "--wait-for=none"); code != ExitOK {
					t.Fatalf("start: exit %d: %s", code, errs)
				}
				if len(tt.recorded) > 0 {
					files := map[string][]byte{}
					for _, e := range tt.recorded {
						data, ok := files[e.file]
						if !ok {
							data = w.server.ReadFile(t, "case.git", e.file)
						}
						files[e.file] = []byte(e.apply(t, string(data)))
					}
					w.server.Push(t, "case.git", files, "a person edits gitcanary's files")
				}
			}
			head := w.server.Git(t, "case.git", "rev-parse", "main")
			args := tt.args
			if args == nil {
				args = []string{"start", "-f", "RELEASE", "--wait-for=none"}
			}
			args = append([]string(nil), args...)
			for i, a := range args {
				a = strings.ReplaceAll(a, "RELEASE", file)
				a = strings.ReplaceAll(a, "URL", w.url)
				args[i] = strings.ReplaceAll(a, "CONFIG", cfg)
			}
			code, out, errs := w.run(args...)
			got := editPrefix.ReplaceAllString(errs, "gitcanary: ")
			got = strings.ReplaceAll(got, file, "RELEASE")
			got = urlRE.ReplaceAllString(got, "URL")
			got = hashRE.ReplaceAllString(got, "HASH")
			got = strings.ReplaceAll(got, cfg, "CONFIG")
			want := tt.want
			if !strings.HasSuffix(want, "\n") {
				want += "\n"
			}
			if code != ExitInvalid || got != want {
				t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 2, stderr:\n%s", strings.Join(tt.args, " "), code, out, got, want)
			}
			if after := w.server.Git(t, "case.git", "rev-parse", "main"); after != head {
				t.Errorf("the branch moved from %s to %s: %v", head, after, w.server.Commits(t, "case.git"))
			}
		})
	}
}

const (
	vsFile   = "apps/reviews/virtualservice.yaml"
	drFile   = "apps/reviews/destinationrule.yaml"
	depFile  = "apps/reviews/deployment.yaml"
	kustFile = "apps/reviews/kustomization.yaml"
	record   = "apps/reviews/.gitcanary/releases/reviews-v2.yaml"
	stateYML = "apps/reviews/.gitcanary/state.yaml"
)

var statusArgs = []string{"status", "reviews-v2", "--repo", "URL", "--path", "apps/reviews"}

var catalogue = []badInput{
	// The app as the user wrote it: start reads it and refuses.
	{name: "virtualservice http entry is a string", edits: []edit{{file: vsFile, old: "  http:\n", new: "  http:\n    - x\n"}},
		want: "gitcanary: the app is not ready for a canary release (run `gitcanary lint`):\n  apps/reviews/virtualservice.yaml: VirtualService bookinfo/reviews: spec.http[0]: expected an object (HTTPRoute), got the string \"x\""},
	{name: "virtualservice http is a map", edits: []edit{{file: vsFile, old: "  http:\n    - name: primary\n", new: "  http:\n    x: {}\n  tcp:\n    - name: primary\n"}},
		want: "gitcanary: the app is not ready for a canary release (run `gitcanary lint`):\n  apps/reviews/virtualservice.yaml: VirtualService bookinfo/reviews: spec.http: expected a list, got an object"},
	{name: "virtualservice weight is a string", edits: []edit{{file: vsFile, old: "            port:\n", new: "            port: {number: 9080}\n          weight: ten\n        - destination:\n            host: reviews\n            port:\n"}},
		want: "gitcanary: the app is not ready for a canary release (run `gitcanary lint`):\n  apps/reviews/virtualservice.yaml: VirtualService bookinfo/reviews: spec.http[0].route[0].weight: expected a number, got the string \"ten\""},
	{name: "destinationrule subsets is a map", edits: []edit{{file: drFile, old: "  subsets:\n    - name: v1\n      labels:\n        version: v1\n", new: "  subsets:\n    v1: {labels: {version: v1}}\n"}},
		want: "gitcanary: the app is not ready for a canary release (run `gitcanary lint`):\n  apps/reviews/destinationrule.yaml: DestinationRule bookinfo/reviews: spec.subsets: expected a list, got an object"},
	{name: "destinationrule subset labels is a list", edits: []edit{{file: drFile, old: "      labels:\n        version: v1\n", new: "      labels:\n        - version: v1\n"}},
		want: "gitcanary: the app is not ready for a canary release (run `gitcanary lint`):\n  apps/reviews/destinationrule.yaml: DestinationRule bookinfo/reviews: spec.subsets[0].labels: expected an object, got a list"},
	{name: "deployment replicas is a string", edits: []edit{{file: depFile, old: "replicas: 2", new: "replicas: two"}},
		want: "gitcanary: the app is not ready for a canary release (run `gitcanary lint`):\n  apps/reviews/deployment.yaml: Deployment bookinfo/reviews-v1: spec.replicas: expected a number, got a string"},
	{name: "deployment labels is a list", edits: []edit{{file: depFile, old: "  labels:\n    app: reviews\n    version: v1\nspec:", new: "  labels:\n    - app\nspec:"}},
		want: "gitcanary: the app is not ready for a canary release (run `gitcanary lint`):\n  apps/reviews/deployment.yaml: Deployment bookinfo/reviews-v1: metadata.labels: expected an object, got a list"},
	{name: "deployment containers is a map", edits: []edit{{file: depFile, old: "      containers:\n        - name: reviews\n", new: "      containers:\n        reviews:\n          name: reviews\n"}},
		want: "gitcanary: the app is not ready for a canary release (run `gitcanary lint`):\n  apps/reviews/deployment.yaml: Deployment bookinfo/reviews-v1: spec.template.spec.containers: expected a list, got an object"},
	{name: "kustomization is a list", edits: []edit{{file: kustFile, new: "- deployment.yaml\n- service.yaml\n"}},
		want: "gitcanary: apps/reviews/kustomization.yaml: a kustomization is a YAML map (resources:, components: …), this file is a list"},
	{name: "kustomization resources is a string", edits: []edit{{file: kustFile, old: "resources:\n  - deployment.yaml\n", new: "resources: deployment.yaml\nx:\n  - deployment.yaml\n"}},
		want: "gitcanary: kustomize build apps/reviews failed (Argo CD would fail the same way): invalid Kustomization: json: cannot unmarshal string into Go struct field Kustomization.resources of type []string"},
	{name: "kustomization names a missing file", edits: []edit{{file: kustFile, old: "  - gateway.yaml\n", new: "  - gateway.yaml\n  - missing.yaml\n"}},
		want: "gitcanary: kustomize build apps/reviews failed (Argo CD would fail the same way): accumulating resources: accumulation err='accumulating resources from 'missing.yaml': 'apps/reviews/missing.yaml' doesn't exist': must build at directory: not a valid directory: 'apps/reviews/missing.yaml' doesn't exist"},
	{name: "virtualservice is not YAML", edits: []edit{{file: vsFile, old: "  hosts:\n", new: "  hosts: [reviews\n"}},
		want: "gitcanary: kustomize build apps/reviews failed (Argo CD would fail the same way): accumulating resources: accumulating resources from 'virtualservice.yaml': MalformedYAMLError: yaml: line 5: did not find expected ',' or ']' in File: virtualservice.yaml"},
	{name: "invalid UTF-8 in a manifest", edits: []edit{{file: vsFile, old: "name: reviews", new: "name: rev\xffiews"}},
		want: "gitcanary: kustomize build apps/reviews failed (Argo CD would fail the same way): accumulating resources: accumulating resources from 'virtualservice.yaml': MalformedYAMLError: yaml: invalid leading UTF-8 octet in File: virtualservice.yaml"},
	{name: "deeply nested YAML", edits: []edit{{file: "apps/reviews/deep.yaml", new: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: {x: y}\nz: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\n"},
		{file: kustFile, old: "resources:\n", new: "resources:\n  - deep.yaml\n"}},
		want: "gitcanary: kustomize build apps/reviews failed (Argo CD would fail the same way): accumulating resources: accumulating resources from 'deep.yaml': MalformedYAMLError: yaml: line 5: exceeded max depth of 10000 in File: deep.yaml"},
	{name: "duplicate key in a manifest", edits: []edit{{file: depFile, old: "  replicas: 2\n", new: "  replicas: 2\n  replicas: 3\n"}},
		want: "gitcanary: kustomize build apps/reviews failed (Argo CD would fail the same way): map[string]interface {}(nil): yaml: unmarshal errors:\n  line 10: mapping key \"replicas\" already defined at line 9"},
	{name: "manifest without a kind", edits: []edit{{file: "apps/reviews/nokind.yaml", new: "apiVersion: v1\nmetadata: {name: x}\n"}, {file: kustFile, old: "resources:\n", new: "resources:\n  - nokind.yaml\n"}},
		want: "gitcanary: kustomize build apps/reviews failed (Argo CD would fail the same way): accumulating resources: accumulation err='accumulating resources from 'nokind.yaml': missing kind in object {{v1 } {{x } map[] map[]}}': must build at directory: 'apps/reviews/nokind.yaml': file is not directory"},
	{name: "no kustomization in the app path", edits: []edit{{file: kustFile, old: "kind: Kustomization\n", new: "kind: Kustomization\n"}}, release: []edit{{old: "path: apps/reviews", new: "path: apps"}},
		want: "gitcanary: apps has no kustomization.yaml: gitcanary needs the Argo CD Application's source path to be a kustomization"},
	{name: "app path that does not exist", release: []edit{{old: "path: apps/reviews", new: "path: apps/ratings"}},
		want: "gitcanary: apps/ratings: no such directory in the repository at HASH (check spec.repo.path)"},
	{name: "app path outside the repository", release: []edit{{old: "path: apps/reviews", new: "path: ../x"}},
		want: "gitcanary: RELEASE: invalid release:\n  spec.repo.path: must stay inside the repository, got \"../x\""},
	{name: "absolute app path", release: []edit{{old: "path: apps/reviews", new: "path: /apps/reviews"}},
		want: "gitcanary: RELEASE: invalid release:\n  spec.repo.path: must be relative to the repository root, got \"/apps/reviews\""},
	{name: "virtualservice in another namespace than the workload", edits: []edit{{file: vsFile, old: "  name: reviews\n", new: "  name: reviews\n  namespace: frontend\n"}},
		want: "gitcanary: VirtualService frontend/reviews (in apps/reviews) is in namespace frontend, where Istio reads host \"reviews\" as reviews.frontend.svc.cluster.local, not the released service reviews.bookinfo.svc.cluster.local in namespace bookinfo: write the host as reviews.bookinfo.svc.cluster.local, or move the VirtualService to namespace bookinfo"},
	{name: "no virtualservice routes the host", edits: []edit{{file: kustFile, old: "  - virtualservice.yaml\n", new: ""}},
		want: "gitcanary: no VirtualService for host reviews in apps/reviews; add one, or start with --generate-routing to have gitcanary write it"},
	{name: "manifest that is a symbolic link", edits: []edit{{file: "shared/gateway.yaml", new: "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: shared}\nspec: {}\n"},
		{file: "apps/reviews/gateway.yaml", new: string(gittest.Link("../../shared/gateway.yaml"))}},
		want: "gitcanary: apps/reviews/gateway.yaml is a symbolic link; gitcanary reads the repository's objects, not a checkout, and does not follow links: commit the file or directory itself, or reference its real path in the kustomization"},
	{name: "base that is a symbolic link to a directory", edits: []edit{{file: "bases/extra/kustomization.yaml", new: "resources: []\n"},
		{file: "apps/reviews/base", new: string(gittest.Link("../../bases/extra"))}, {file: kustFile, old: "resources:\n", new: "resources:\n  - base\n"}},
		want: "gitcanary: apps/reviews/base is a symbolic link; gitcanary reads the repository's objects, not a checkout, and does not follow links: commit the file or directory itself, or reference its real path in the kustomization"},
	{name: "manifest of 50 MB", edits: []edit{{file: "apps/reviews/big.yaml", new: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  x: " + strings.Repeat("y", 50<<20) + "\n"},
		{file: kustFile, old: "resources:\n", new: "resources:\n  - big.yaml\n"}},
		want: "gitcanary: apps/reviews/big.yaml is HASH bytes (50.0 MiB), over gitcanary's limit of 10 MiB per file it reads: keep large data out of the kustomization's resources, patches and generators"},

	// The Release file.
	{name: "release without apiVersion", release: []edit{{old: "apiVersion", new: "# apiVersion"}}, args: []string{"lint", "-f", "RELEASE", "--prometheus", "http://127.0.0.1:9"},
		want: "gitcanary: RELEASE: invalid release:\n  apiVersion: must be gitcanary.io/v1alpha1, got \"\""},
	{name: "release file is empty", release: []edit{{old: "apiVersion", new: cut}}, args: []string{"lint", "-f", "RELEASE", "--prometheus", "http://127.0.0.1:9"},
		want: "gitcanary: RELEASE: invalid release:\n  (document): empty document"},
	{name: "release file has two documents", release: []edit{{old: "apiVersion", new: "kind: Release\n---\napiVersion"}},
		want: "gitcanary: RELEASE: invalid release:\n  (document): expected one Release document, found several separated by ---"},
	{name: "release file does not exist", args: []string{"start", "-f", "RELEASE.missing", "--wait-for=none"},
		want: "gitcanary: open RELEASE.missing: no such file or directory"},
	{name: "release setWeight beyond int32", release: []edit{{old: "{setWeight: 10}", new: "{setWeight: 4294967306}"}},
		want: "gitcanary: RELEASE: invalid release:\n  spec.steps.setWeight: 4294967306 is out of range or not a whole number"},
	{name: "release setWeight is a string", release: []edit{{old: "{setWeight: 10}", new: "{setWeight: ten}"}},
		want: "gitcanary: RELEASE: invalid release:\n  spec.steps.setWeight: expected a whole number, got a string"},
	{name: "release steps is a map", release: []edit{{old: "steps: [{setWeight: 10}, {pause: {}}, {setWeight: 60}]", new: "steps: {setWeight: 10}"}},
		want: "gitcanary: RELEASE: invalid release:\n  spec.steps: expected a list, got an object"},
	{name: "release with an analysis step of templates only", release: []edit{{old: "{pause: {}}", new: "{analysis: {templates: [x]}}"}},
		want: "gitcanary: RELEASE: invalid release:\n  spec.steps.analysis.templates: expected an object, got a string"},
	// AnalysisTemplate files (analysis/ at the repository's root), read
	// when the analysis would start: start refuses before any commit.
	{name: "analysis template without a file", release: []edit{{old: "{pause: {}}", new: "{analysis: {duration: 1m, templates: [{name: slo}]}}"}}, args: promArgs,
		want: "gitcanary: invalid release:\n  spec.steps[1].analysis.templates[0].name: AnalysisTemplate \"slo\": no file analysis/slo.yaml (nor .yml) in the repository; templates live in spec.analysis.templateDir (default analysis/) from the repository's root"},
	{name: "analysis template with a bad metric", release: []edit{{old: "{pause: {}}", new: sloStep}}, args: promArgs,
		edits: []edit{{file: "analysis/slo.yaml", new: strings.Replace(sloTemplate, "failureLimit: 1", "failureLimit: many", 1)}},
		want:  "gitcanary: analysis/slo.yaml: invalid analysis template:\n  spec.metrics.failureLimit: expected a whole number, got a string"},
	{name: "analysis template with a bad condition", release: []edit{{old: "{pause: {}}", new: sloStep}}, args: promArgs,
		edits: []edit{{file: "analysis/slo.yaml", new: strings.Replace(sloTemplate, "result[0] <=", "result[0] <= <", 1)}},
		want:  "gitcanary: analysis/slo.yaml (args from spec.steps[1].analysis.templates[0]): invalid analysis template:\n  spec.metrics[0].successCondition: \"result[0] <= < 0.05\" does not parse: unexpected token Operator(\"<\")"},
	{name: "analysis template arg missing", release: []edit{{old: "{pause: {}}", new: strings.Replace(sloStep, "args: [{name: max, value: '0.05'}]", "args: []", 1)}}, args: promArgs,
		edits: []edit{{file: "analysis/slo.yaml", new: sloTemplate}},
		want:  "gitcanary: invalid release:\n  spec.steps[1].analysis.templates[0].args: arg \"max\" of analysis/slo.yaml has no default: give it a value"},
	{name: "analysis template arg unknown", release: []edit{{old: "{pause: {}}", new: strings.Replace(sloStep, "{name: max, value: '0.05'}", "{name: max, value: '0.05'}, {name: min, value: '0'}", 1)}}, args: promArgs,
		edits: []edit{{file: "analysis/slo.yaml", new: sloTemplate}},
		want:  "gitcanary: invalid release:\n  spec.steps[1].analysis.templates[0].args[1].name: analysis/slo.yaml has no arg \"min\"; its args are max"},
	{name: "analysis template metric named like the step's", release: []edit{{old: "{pause: {}}", new: strings.Replace(sloStep, "name: errors", "name: slo-ratio", 1)}}, args: promArgs,
		edits: []edit{{file: "analysis/slo.yaml", new: sloTemplate}},
		want:  "gitcanary: invalid release:\n  spec.steps[1].analysis: two metrics are named \"slo-ratio\" (in the step and in analysis/slo.yaml); metric names must be unique in an analysis"},
	{name: "analysis template at lint", release: []edit{{old: "{pause: {}}", new: sloStep}}, args: []string{"lint", "-f", "RELEASE", "--prometheus", "http://127.0.0.1:9"},
		edits: []edit{{file: "analysis/slo.yaml", new: strings.Replace(sloTemplate, "{{args.max}}", "{{args.maximum}}", 1)}},
		want:  "gitcanary: analysis/slo.yaml: invalid analysis template:\n  spec.metrics[0].successCondition: {{args.maximum}}: \"maximum\" is not declared in spec.args"},
	{name: "release with an analysis step and no Prometheus", release: []edit{{old: "{pause: {}}", new: "{analysis: {duration: 1m, metrics: [{name: errors, compare: {istio: errors}}]}}"}},
		want: "gitcanary: step 1 is an analysis, but no Prometheus is set: set spec.analysis.prometheus.address, --prometheus or GITCANARY_PROMETHEUS_URL"},
	{name: "release name with capitals", release: []edit{{old: "name: reviews-v2", new: "name: Reviews-V2"}},
		want: "gitcanary: RELEASE: invalid release:\n  metadata.name: \"Reviews-V2\" is not a DNS-1123 label: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"},
	{name: "release repo url with an unsupported scheme", release: []edit{{old: "git://", new: "ftp://"}},
		want: "gitcanary: RELEASE: invalid release:\n  spec.repo.url: scheme \"ftp\" is not supported; use git://, http(s)://, ssh:// or file://"},
	{name: "release in invalid UTF-8", release: []edit{{old: "version: v2", new: "version: v\xff2"}},
		want: "gitcanary: RELEASE: invalid release:\n  (document): not valid YAML: invalid leading UTF-8 octet"},

	{name: "release webhook of an unknown type", release: []edit{{old: "steps: [{setWeight: 10}, {pause: {}}, {setWeight: 60}]", new: "steps: [{setWeight: 10}, {pause: {}}, {setWeight: 60}]\n  webhooks: [{name: gate, type: confirm-rollout, url: 'https://hooks.example/gate'}]"}},
		want: "gitcanary: RELEASE: invalid release:\n  spec.webhooks[0].type: unknown webhook type \"confirm-rollout\"; use one of confirm-start, pre-route, during-analysis, confirm-step, confirm-promotion, rollback, post-release, event"},
	{name: "release webhook url with a token", release: []edit{{old: "steps: [{setWeight: 10}, {pause: {}}, {setWeight: 60}]", new: "steps: [{setWeight: 10}, {pause: {}}, {setWeight: 60}]\n  webhooks: [{name: feed, type: event, url: 'https://hooks.example/feed?access_token=abcdef0123456789'}]"}},
		want: "gitcanary: RELEASE: invalid release:\n  spec.webhooks[0].url: carries a credential in its query parameter \"access_token\"; a webhook's headers and secrets go in gitcanary's configuration (webhooks: in the config file), never in the Release, which is committed (docs/webhooks.md#secrets)"},
	{name: "release webhook with headers", release: []edit{{old: "steps: [{setWeight: 10}, {pause: {}}, {setWeight: 60}]", new: "steps: [{setWeight: 10}, {pause: {}}, {setWeight: 60}]\n  webhooks: [{name: gate, type: confirm-step, url: 'https://hooks.example/gate', headers: {Authorization: x}}]"}},
		want: "gitcanary: RELEASE: invalid release:\n  spec.webhooks[0].headers: unknown field"},
	{name: "release webhooks with the same name", release: []edit{{old: "steps: [{setWeight: 10}, {pause: {}}, {setWeight: 60}]", new: "steps: [{setWeight: 10}, {pause: {}}, {setWeight: 60}]\n  webhooks: [{name: gate, type: confirm-step, url: 'https://hooks.example/a'}, {name: gate, type: rollback, url: 'https://hooks.example/b', interval: 0s}]"}},
		want: "gitcanary: RELEASE: invalid release:\n  spec.webhooks[1].name: \"gate\" is used by another webhook; names are unique in a release\n  spec.webhooks[1].interval: must be at least 1s, got 0s"},

	// gitcanary's record and state, edited by a person after the start.
	{name: "record without status", started: true, recorded: []edit{{file: record, old: "\nstatus:", new: cut}}, args: statusArgs,
		want: "gitcanary: apps/reviews/.gitcanary/releases/reviews-v2.yaml: invalid release:\n  status: is missing: a record is written by gitcanary with its status; restore the file from the commit that last changed it"},
	{name: "record status.step out of range", started: true, recorded: []edit{{file: record, old: "\n  step: -1\n", new: "\n  step: 99\n"}}, args: []string{"approve", "-f", "RELEASE", "--wait-for=none"},
		want: "gitcanary: apps/reviews/.gitcanary/releases/reviews-v2.yaml: invalid release:\n  status.step: 99 is out of range: spec.steps has 3 entries (-1 is before the first)"},
	{name: "record status.phase unknown", started: true, recorded: []edit{{file: record, old: "\n  phase: Preparing\n", new: "\n  phase: Running\n"}}, args: []string{"abort", "-f", "RELEASE", "--wait-for=none"},
		want: "gitcanary: apps/reviews/.gitcanary/releases/reviews-v2.yaml: invalid release:\n  status.phase: \"Running\" is not a phase; one of [Abandoned Abandoning Analyzing Paused Preparing Progressing Promoted Promoting Retiring Reverting Routing]"},
	{name: "record paused on a weight step", started: true, recorded: []edit{{file: record, old: "\n  step: -1\n", new: "\n  step: 0\n"}, {file: record, old: "\n  phase: Preparing\n", new: "\n  phase: Paused\n"}}, args: []string{"approve", "-f", "RELEASE", "--wait-for=none"},
		want: "gitcanary: apps/reviews/.gitcanary/releases/reviews-v2.yaml: invalid release:\n  status.step: 0 is not a pause step, but the phase is Paused"},
	{name: "record status.seq zero", started: true, recorded: []edit{{file: record, old: "\n  seq: 1\n", new: "\n  seq: 0\n"}}, args: []string{"set-weight", "-f", "RELEASE", "20", "--wait-for=none"},
		want: "gitcanary: apps/reviews/.gitcanary/releases/reviews-v2.yaml: invalid release:\n  status.seq: must be at least 1 (the record's first commit), got 0"},
	{name: "record truncated", started: true, recorded: []edit{{file: record, new: "apiVersion: gitcanary.io/v1alpha1\nkind: Release\nmetadata:\n  name: reviews-v2\nspec:\n  repo: {url: \"git://"}}, args: statusArgs,
		want: "gitcanary: apps/reviews/.gitcanary/releases/reviews-v2.yaml: invalid release:\n  (document): not valid YAML: line 6: found unexpected end of stream"},
	{name: "record with an unknown field", started: true, recorded: []edit{{file: record, old: "status:\n", new: "status:\n  weight: 5\n"}}, args: statusArgs,
		want: "gitcanary: apps/reviews/.gitcanary/releases/reviews-v2.yaml: invalid release:\n  status.weight: unknown field"},
	{name: "state file not YAML", started: true, recorded: []edit{{file: stateYML, new: "versions: [\n"}}, args: []string{"promote", "-f", "RELEASE", "--wait-for=none"},
		want: "gitcanary: apps/reviews/.gitcanary/state.yaml: line 1: did not find expected node content; gitcanary writes this file: restore it from the commit that last changed it (git log -p -- apps/reviews/.gitcanary/state.yaml)"},
	{name: "state file with an unknown field", started: true, recorded: []edit{{file: stateYML, new: "versionz: []\n"}}, args: []string{"abort", "-f", "RELEASE", "--wait-for=none"},
		want: "gitcanary: apps/reviews/.gitcanary/state.yaml: unknown field \"versionz\"; gitcanary writes this file: restore it from the commit that last changed it (git log -p -- apps/reviews/.gitcanary/state.yaml)"},

	// The configuration file.
	{name: "config is not YAML", config: "customWorkloads: [\n", args: []string{"--config", "CONFIG", "lint", "-f", "RELEASE"},
		want: "gitcanary: CONFIG: yaml: line 1: did not find expected node content"},
	{name: "config with an unknown field", config: "customWorkload: []\n", args: []string{"--config", "CONFIG", "lint", "-f", "RELEASE"},
		want: "gitcanary: CONFIG: unknown field \"customWorkload\""},
	{name: "config kind without paths", config: "customWorkloads:\n- name: clonesets\n  resourceSchema: {group: apps.kruise.io, version: v1alpha1, kind: CloneSet, resource: clonesets}\n", args: []string{"--config", "CONFIG", "lint", "-f", "RELEASE"},
		want: "gitcanary: CONFIG: customWorkloads[0] (clonesets): path.podTemplate is required; path.replicas is required; path.statusReadyReplicas is required"},
	{name: "config with a bad dot path", config: "customWorkloads:\n- name: clonesets\n  resourceSchema: {group: apps.kruise.io, version: v1alpha1, kind: CloneSet, resource: clonesets}\n  path: {podTemplate: '.spec.[template', replicas: .spec.replicas, statusReadyReplicas: .status.readyReplicas}\n", args: []string{"--config", "CONFIG", "lint", "-f", "RELEASE"},
		want: "gitcanary: CONFIG: customWorkloads[0] (clonesets): workload kind apps.kruise.io/CloneSet: podTemplate path: \".spec.[template\": character '[' is not supported (plain dot paths only)"},
	{name: "config webhook without name or urlPrefix", config: "webhooks:\n- headers: {Authorization: 'Bearer s3cr3t-value'}\n", args: []string{"--config", "CONFIG", "lint", "-f", "RELEASE"},
		want: "gitcanary: CONFIG: invalid webhook configuration: webhooks[0]: set name or urlPrefix (or both) to say which webhooks it is for"},
	{name: "config webhook secret from an unset variable", config: "webhooks:\n- name: gate\n  secretFromEnv: GITCANARY_TEST_UNSET_SECRET\n",
		args: []string{"--config", "CONFIG", "start", "-f", "RELEASE", "--wait-for=none"},
		want: "gitcanary: config: invalid webhook configuration: webhooks[0]: secretFromEnv names environment variable GITCANARY_TEST_UNSET_SECRET, which is not set"},
	{name: "config file that does not exist", args: []string{"--config", "CONFIG.missing", "lint", "-f", "RELEASE"},
		want: "gitcanary: config: open CONFIG.missing: no such file or directory"},

	// The command line.
	{name: "set-weight beyond uint32", started: true, args: []string{"set-weight", "reviews-v2", "4294967306", "--repo", "URL", "--path", "apps/reviews", "--wait-for=none"},
		want: "gitcanary: weight \"4294967306\" is not a whole number from 0 to 100"},
	{name: "set-weight negative", started: true, args: []string{"set-weight", "-f", "RELEASE", "--wait-for=none", "--", "-5"},
		want: "gitcanary: weight \"-5\" is not a whole number from 0 to 100"},
	{name: "set-weight above 100", started: true, args: []string{"set-weight", "-f", "RELEASE", "101", "--wait-for=none"},
		want: "gitcanary: weight \"101\" is not a whole number from 0 to 100"},
	{name: "set-weight not a number", started: true, args: []string{"set-weight", "-f", "RELEASE", "ten", "--wait-for=none"},
		want: "gitcanary: weight \"ten\" is not a whole number from 0 to 100"},
	{name: "set-weight with a percent sign", started: true, args: []string{"set-weight", "-f", "RELEASE", "10%", "--wait-for=none"},
		want: "gitcanary: weight \"10%\" is not a whole number from 0 to 100"},
	{name: "approve while preparing", started: true, args: []string{"approve", "-f", "RELEASE", "--wait-for=none"},
		want: "gitcanary: approve is not possible while the release is Preparing (allowed in [Paused])"},
	{name: "unknown flag", args: []string{"start", "-f", "RELEASE", "--wait-for=none", "--dry"},
		want: "gitcanary: gitcanary start: unknown flag: --dry (see gitcanary start --help)"},
	{name: "unknown --wait-for", args: []string{"start", "-f", "RELEASE", "--wait-for=soon"},
		want: "gitcanary: --wait-for \"soon\": use none, approval, done or a phase (Preparing, Routing, Progressing, Paused, Promoting, Promoted, Abandoned, …)"},
	{name: "bad --timeout", args: []string{"start", "-f", "RELEASE", "--timeout=soon"},
		want: "gitcanary: gitcanary start: invalid argument \"soon\" for \"--timeout\" flag: time: invalid duration \"soon\" (see gitcanary start --help)"},
	{name: "status of a release that does not exist", args: statusArgs,
		want: "gitcanary: release reviews-v2 has no record in apps/reviews at HASH"},
	{name: "status with a path outside the repository", args: []string{"status", "reviews-v2", "--repo", "URL", "--path", "../x"},
		want: "gitcanary: --path: must stay inside the repository, got \"../x\""},
	{name: "status with a release name that is not a name", args: []string{"status", "../../etc", "--repo", "URL", "--path", "apps/reviews"},
		want: "gitcanary: release name \"../../etc\": \"../../etc\" is not a DNS-1123 label: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"},
	{name: "status with a repo url carrying an unsupported scheme", args: []string{"status", "reviews-v2", "--repo", "ftp://127.0.0.1/x.git", "--path", "apps/reviews"},
		want: "gitcanary: --repo: scheme \"ftp\" is not supported; use git://, http(s)://, ssh:// or file://"},
	{name: "too many arguments", args: []string{"approve", "reviews-v2", "extra", "--repo", "URL", "--path", "apps/reviews"},
		want: "gitcanary: gitcanary approve: accepts between 0 and 1 arg(s), received 2 (usage: gitcanary approve [NAME] [flags])"},
	{name: "plan of a step that does not exist", args: []string{"plan", "-f", "RELEASE", "--step", "9"},
		want: "gitcanary: --step \"9\": this release has states 0, 1, 2, 3, promoted, abandoned"},
}

// An analysis step using the template analysis/slo.yaml, and the template.
const (
	sloStep     = "{analysis: {duration: 1m, metrics: [{name: errors, compare: {istio: errors}}], templates: [{name: slo, args: [{name: max, value: '0.05'}]}]}}"
	sloTemplate = `apiVersion: gitcanary.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: slo}
spec:
  args: [{name: max}]
  metrics:
    - name: slo-ratio
      query: 'sum(rate(istio_requests_total{destination_version="{{canary}}",response_code=~"5.."}[{{interval}}])) / sum(rate(istio_requests_total{destination_version="{{canary}}"}[{{interval}}]))'
      successCondition: 'result[0] <= {{args.max}}'
      failureLimit: 1
`
)

var promArgs = []string{"start", "-f", "RELEASE", "--wait-for=none", "--prometheus", "http://127.0.0.1:9"}
