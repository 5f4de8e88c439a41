package argocd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v2/util/notification/expression"
	"github.com/argoproj/argo-cd/v2/util/notification/expression/shared"
	"github.com/argoproj/notifications-engine/pkg/triggers"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/git"
)

// catalogue is argocd-notifications-cm.yaml read as notifications-engine
// reads its ConfigMap (api.ParseConfig): trigger.<name> is a YAML list of
// conditions, compiled by the engine's own trigger service (antonmedv/expr,
// the version Argo CD 2.14 runs; one error disables every trigger);
// template.<name> holds a message and webhook bodies, each a text/template
// with Sprig's functions but env and expandenv, parsed on its own.
type catalogue struct {
	triggers  triggers.Service
	conds     map[string][]triggers.Condition
	templates map[string]parsedTemplate
}

type parsedTemplate struct {
	message *template.Template
	bodies  map[string]*template.Template // by webhook service
}

// notificationTemplate is the part of the engine's services.Notification
// the catalogue uses; read strictly, so a misspelled key fails here.
type notificationTemplate struct {
	Message string `json:"message"`
	Webhook map[string]struct {
		Method string `json:"method"`
		Path   string `json:"path"`
		Body   string `json:"body"`
	} `json:"webhook"`
}

func funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	return f
}

func loadCatalogue(t *testing.T) catalogue {
	t.Helper()
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict([]byte(readFile(t, notificationsSnippet)), &cm); err != nil {
		t.Fatal(err)
	}
	c := catalogue{conds: map[string][]triggers.Condition{}, templates: map[string]parsedTemplate{}}
	for k, v := range cm.Data {
		switch {
		case strings.HasPrefix(k, "trigger."):
			var conds []triggers.Condition
			if err := yaml.UnmarshalStrict([]byte(v), &conds); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			c.conds[strings.TrimPrefix(k, "trigger.")] = conds
		case strings.HasPrefix(k, "template."):
			name := strings.TrimPrefix(k, "template.")
			var n notificationTemplate
			if err := yaml.UnmarshalStrict([]byte(v), &n); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			msg, err := template.New(name).Funcs(funcs()).Parse(n.Message)
			if err != nil {
				t.Fatalf("%s: message: %v", k, err)
			}
			p := parsedTemplate{message: msg, bodies: map[string]*template.Template{}}
			for svc, w := range n.Webhook {
				if w.Method != "POST" {
					t.Errorf("%s: webhook.%s.method is %q; the webhook service's default is GET", k, svc, w.Method)
				}
				if p.bodies[svc], err = template.New(name + svc).Funcs(funcs()).Parse(w.Body); err != nil {
					t.Fatalf("%s: webhook.%s.body: %v", k, svc, err)
				}
			}
			c.templates[name] = p
		default:
			t.Errorf("unexpected key %s: the catalogue holds triggers and templates only", k)
		}
	}
	svc, err := triggers.NewService(c.conds)
	if err != nil {
		t.Fatalf("the engine does not compile the triggers: %v", err)
	}
	c.triggers = svc
	for name, conds := range c.conds {
		for _, cond := range conds {
			for _, s := range cond.Send {
				if _, ok := c.templates[s]; !ok {
					t.Errorf("trigger %s sends template %s, which the catalogue lacks", name, s)
				}
			}
		}
	}
	return c
}

// commits is the repo-server as the notifications controller reaches it
// (util/notification/argocd): GetCommitMetadata asks the repo-server's
// GetRevisionMetadata, which answers `git show -s --format=%B` of the
// revision with surrounding space trimmed, and refuses a revision that is
// not a commit hash ("must be resolved"); an unknown commit is an error.
// The expression helpers turn an error into a panic, which expr returns as
// the condition's error: the trigger does not fire.
type commits map[string]string

func (c commits) GetCommitMetadata(_ context.Context, repoURL, sha, project string) (*shared.CommitMetadata, error) {
	if !regexp.MustCompile(`^[0-9a-f]{7,40}$`).MatchString(sha) {
		return nil, fmt.Errorf("revision %s must be resolved", sha)
	}
	msg, ok := c[sha]
	if !ok {
		return nil, fmt.Errorf("unknown revision %s in %s (project %s)", sha, repoURL, project)
	}
	return &shared.CommitMetadata{Message: strings.TrimSpace(msg), Author: "gitcanary <gitcanary@example.com>"}, nil
}

func (c commits) GetAppDetails(context.Context, *v1alpha1.Application) (*shared.AppDetail, error) {
	return nil, fmt.Errorf("not used by the catalogue")
}

// vars are the variables Argo CD gives triggers and templates
// (util/notification/settings: app, context, then expression.Spawn adds
// repo, strings and time).
func vars(app map[string]any, repo commits) map[string]any {
	return expression.Spawn(&unstructured.Unstructured{Object: app}, repo, map[string]any{
		"app": app, "context": map[string]string{},
	})
}

// run evaluates a trigger; it returns whether it fired and its oncePer.
func (c catalogue) run(t *testing.T, trigger string, v map[string]any) (bool, string) {
	t.Helper()
	res, err := c.triggers.Run(trigger, v)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 {
		t.Fatalf("%s: %d conditions", trigger, len(res))
	}
	return res[0].Triggered, res[0].OncePer
}

// render executes a template's message and its webhook body, which must be JSON.
func (c catalogue) render(t *testing.T, name string, v map[string]any) (string, map[string]any) {
	t.Helper()
	p := c.templates[name]
	var msg, body bytes.Buffer
	if err := p.message.Execute(&msg, v); err != nil {
		t.Fatalf("%s message: %v", name, err)
	}
	if err := p.bodies[webhookService].Execute(&body, v); err != nil {
		t.Fatalf("%s body: %v", name, err)
	}
	var out map[string]any
	if err := json.Unmarshal(body.Bytes(), &out); err != nil {
		t.Fatalf("%s body is not JSON: %v\n%s", name, err, body.String())
	}
	return strings.TrimSpace(msg.String()), out
}

// gitcanaryMessage is a commit message as pkg/machine writes it.
func gitcanaryMessage(release, path, action string, seq int, weights, text string) string {
	subject := fmt.Sprintf("gitcanary %s: %s", release, action)
	if weights != "" {
		subject += " (" + weights + ")"
	}
	return git.Message{Subject: subject, Body: text, Trailers: []git.Trailer{
		{Key: git.TrailerRelease, Value: release},
		{Key: git.TrailerPath, Value: path},
		{Key: git.TrailerAction, Value: action},
		{Key: git.TrailerSeq, Value: fmt.Sprint(seq)},
	}}.String()
}

// appObject is an Application as the notifications controller sees it.
type appObject struct {
	path, health, opPhase, revision string
	annotations                     map[string]string
	multiSource                     bool
}

func (a appObject) object() map[string]any {
	ann := map[string]any{}
	for k, v := range a.annotations {
		ann[k] = v
	}
	source := map[string]any{"repoURL": "git://127.0.0.1:19418/apps.git", "path": a.path, "targetRevision": "main"}
	spec := map[string]any{"project": "default", "source": source,
		"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "bookinfo"}}
	if a.multiSource {
		delete(spec, "source")
		spec["sources"] = []any{source}
	}
	status := map[string]any{
		"health": map[string]any{"status": a.health},
		"sync":   map[string]any{"status": "Synced", "revision": a.revision},
	}
	if a.opPhase != "" {
		op := map[string]any{"phase": a.opPhase, "finishedAt": "2026-12-01T10:00:05Z"}
		if a.opPhase != "Running" {
			op["syncResult"] = map[string]any{"revision": a.revision}
		}
		status["operationState"] = op
	}
	return map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": "reviews", "namespace": "argocd", "annotations": ann},
		"spec":     spec, "status": status,
	}
}

func shown(release, phase, step, weights string) map[string]string {
	return map[string]string{"gitcanary.io/release": release, "gitcanary.io/phase": phase,
		"gitcanary.io/step": step, "gitcanary.io/weights": weights}
}

const (
	revStep  = "1111111111111111111111111111111111111111"
	revBot   = "2222222222222222222222222222222222222222"
	revOther = "3333333333333333333333333333333333333333"
	revEnd   = "4444444444444444444444444444444444444444"
	revOK    = "5555555555555555555555555555555555555555"
	revFail  = "6666666666666666666666666666666666666666"
	revSet   = "7777777777777777777777777777777777777777"
	revRoute = "8888888888888888888888888888888888888888"
)

var repo = commits{
	revStep:  gitcanaryMessage("reviews-v2", "apps/reviews", "step/0/weight/50", 3, "v1=50,v2=50", "step 0: v2 gets 50%"),
	revBot:   "bump apps/other\n\nby the bot",
	revOther: gitcanaryMessage("ratings-v2", "apps/ratings", "step/0/weight/50", 3, "v1=50,v2=50", "step 0: v2 gets 50%"),
	revEnd:   gitcanaryMessage("reviews-v2", "apps/reviews", "promoted", 9, "v2=100", "v2 is the stable version\n\nThe app path is handed back: its own files describe what runs."),
	revOK:    gitcanaryMessage("reviews-v2", "apps/reviews", "step/2/weight/80", 6, "v1=20,v2=80", "analysis of step 1 successful after 4 looks; step 2: v2 gets 80%"),
	revFail:  gitcanaryMessage("reviews-v2", "apps/reviews", "step/1/analysis/failed", 6, "v1=50,v2=50", "analysis of step 1 failed at look 2 of 4: errors: canary 10.0% against 5.0%"),
	revSet:   gitcanaryMessage("reviews-v2", "apps/reviews", "set-weight/30", 5, "v1=70,v2=30", "v2 set to 30% by hand"),
	revRoute: gitcanaryMessage("reviews-v2", "apps/reviews", "route", 2, "v1=100,v2=0", "route to v2 at weight 0"),
}

// TestDeployedTrigger runs on-gitcanary-deployed as the notifications
// controller does, on Applications in the states that matter.
func TestDeployedTrigger(t *testing.T) {
	c := loadCatalogue(t)
	at := shown("reviews-v2", "Progressing", "1/3", "v1=50,v2=50")
	for _, tc := range []struct {
		name string
		app  appObject
		fire bool
	}{
		{"a gitcanary commit deployed", appObject{path: "apps/reviews", health: "Healthy", opPhase: "Succeeded", revision: revStep, annotations: at}, true},
		{"the path spelled ./apps/reviews/", appObject{path: "./apps/reviews/", health: "Healthy", opPhase: "Succeeded", revision: revStep, annotations: at}, true},
		// Health is reported, not waited for: the step is applied, and a
		// later operation (gitcanary's next sync, a prune) may come before
		// the new pods are ready.
		{"deployed, still Progressing", appObject{path: "apps/reviews", health: "Progressing", opPhase: "Succeeded", revision: revStep, annotations: at}, true},
		{"the operation running", appObject{path: "apps/reviews", health: "Healthy", opPhase: "Running", revision: revStep, annotations: at}, false},
		{"the operation failed", appObject{path: "apps/reviews", health: "Healthy", opPhase: "Failed", revision: revStep, annotations: at}, false},
		{"no operation yet", appObject{path: "apps/reviews", health: "Healthy", revision: revStep, annotations: at}, false},
		{"a bot's commit deployed", appObject{path: "apps/reviews", health: "Healthy", opPhase: "Succeeded", revision: revBot, annotations: at}, false},
		{"a release of another path deployed", appObject{path: "apps/reviews", health: "Healthy", opPhase: "Succeeded", revision: revOther, annotations: at}, false},
		{"the final commit deployed", appObject{path: "apps/reviews", health: "Healthy", opPhase: "Succeeded", revision: revEnd, annotations: at}, false},
		{"a multi-source Application", appObject{path: "apps/reviews", health: "Healthy", opPhase: "Succeeded", revision: revStep, annotations: at, multiSource: true}, false},
		{"an unknown revision", appObject{path: "apps/reviews", health: "Healthy", opPhase: "Succeeded", revision: "9999999999999999999999999999999999999999", annotations: at}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fired, once := c.run(t, "on-gitcanary-deployed", vars(tc.app.object(), repo))
			if fired != tc.fire {
				t.Fatalf("fired %v, want %v", fired, tc.fire)
			}
			if fired && once != tc.app.revision {
				t.Errorf("oncePer %q, want the deployed revision", once)
			}
		})
	}
}

// TestDeployedBodies renders gitcanary-deployed for deployed commits and
// checks every field of the body against the commit and annotations.
func TestDeployedBodies(t *testing.T) {
	c := loadCatalogue(t)
	for _, tc := range []struct {
		name     string
		revision string
		ann      map[string]string
		want     map[string]any
		message  string
	}{
		{"a weight step", revStep, shown("reviews-v2", "Progressing", "1/3", "v1=50,v2=50"), map[string]any{
			"id": "reviews-v2/event/3", "type": "event", "release": "reviews-v2", "name": "reviews-v2", "application": "reviews",
			"namespace": "bookinfo", "phase": "Progressing", "step": 0.0, "steps": 3.0, "action": "step/0/weight/50", "seq": 3.0,
			"weights": []any{map[string]any{"version": "v1", "weight": 50.0}, map[string]any{"version": "v2", "weight": 50.0}},
			"verdict": "", "commit": revStep, "message": "step 0: v2 gets 50%", "health": "Healthy",
			"repo": map[string]any{"url": "git://127.0.0.1:19418/apps.git", "branch": "main", "path": "apps/reviews"},
		}, "gitcanary reviews-v2: step/0/weight/50 (v1=50,v2=50) deployed to reviews, Progressing (commit 1111111): step 0: v2 gets 50%"},
		// The annotations lag (Argo CD synced by itself before gitcanary
		// asked): the action still gives phase and step.
		{"annotations of the step before", revStep, shown("reviews-v2", "Routing", "", "v1=100,v2=0"), map[string]any{
			"phase": "Progressing", "step": 0.0, "steps": nil, "seq": 3.0,
		}, ""},
		{"the route, before any step", revRoute, shown("reviews-v2", "Routing", "", "v1=100,v2=0"), map[string]any{
			"phase": "Routing", "step": -1.0, "action": "route",
			"weights": []any{map[string]any{"version": "v1", "weight": 100.0}, map[string]any{"version": "v2", "weight": 0.0}},
		}, ""},
		{"a successful analysis", revOK, shown("reviews-v2", "Progressing", "3/4", "v1=20,v2=80"), map[string]any{
			"phase": "Progressing", "step": 2.0, "steps": 4.0, "verdict": "Successful",
		}, "gitcanary reviews-v2: step/2/weight/80 (v1=20,v2=80) deployed to reviews, Progressing, analysis Successful (commit 5555555): analysis of step 1 successful after 4 looks; step 2: v2 gets 80%"},
		{"a failed analysis", revFail, shown("reviews-v2", "Abandoning", "2/4", "v1=50,v2=50"), map[string]any{
			"phase": "Abandoning", "step": 1.0, "verdict": "Failed", "action": "step/1/analysis/failed",
		}, ""},
		{"set-weight: the phase from the annotations", revSet, shown("reviews-v2", "Paused", "2/3", "v1=70,v2=30"), map[string]any{
			"phase": "Paused", "step": 1.0, "steps": 3.0, "action": "set-weight/30",
		}, ""},
		{"set-weight: annotations of another release", revSet, shown("reviews-v1", "Promoted", "3/3", "v1=100"), map[string]any{
			"phase": "", "step": nil, "steps": nil, "release": "reviews-v2",
		}, ""},
		{"no annotations", revSet, nil, map[string]any{"phase": "", "step": nil}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := appObject{path: "apps/reviews", health: "Healthy", opPhase: "Succeeded", revision: tc.revision, annotations: tc.ann}
			msg, body := c.render(t, "gitcanary-deployed", vars(app.object(), repo))
			for k, want := range tc.want {
				if got, ok := body[k]; !ok || fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
			if tc.message != "" && msg != tc.message {
				t.Errorf("message\n%q, want\n%q", msg, tc.message)
			}
		})
	}
}

// TestFinishedTrigger: once per release that ended, from the annotations.
func TestFinishedTrigger(t *testing.T) {
	c := loadCatalogue(t)
	for _, tc := range []struct {
		phase string
		fire  bool
	}{{"Promoted", true}, {"Abandoned", true}, {"Paused", false}, {"Retiring", false}, {"", false}} {
		app := appObject{path: "apps/reviews", health: "Healthy", opPhase: "Succeeded", revision: revBot,
			annotations: shown("reviews-v2", tc.phase, "3/3", "v2=100")}
		if tc.phase == "" {
			app.annotations = nil
		}
		fired, once := c.run(t, "on-gitcanary-finished", vars(app.object(), repo))
		if fired != tc.fire {
			t.Errorf("%q: fired %v, want %v", tc.phase, fired, tc.fire)
		}
		if fired && once != "reviews-v2/"+tc.phase {
			t.Errorf("%q: oncePer %q", tc.phase, once)
		}
	}
	app := appObject{path: "apps/reviews", health: "Healthy", revision: revEnd, annotations: shown("reviews-v2", "Promoted", "3/3", "v2=100")}
	msg, body := c.render(t, "gitcanary-finished", vars(app.object(), repo))
	want := map[string]any{"id": "reviews-v2/post-release", "type": "post-release", "release": "reviews-v2", "phase": "Promoted",
		"step": 2.0, "steps": 3.0, "weights": []any{map[string]any{"version": "v2", "weight": 100.0}}, "commit": revEnd}
	for k, w := range want {
		if fmt.Sprint(body[k]) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", k, body[k], w)
		}
	}
	if msg != "gitcanary reviews-v2: Promoted (v2=100) in reviews" {
		t.Errorf("message %q", msg)
	}
}

// TestEveryActionHasItsPhase: each action pkg/machine commits (its
// assignments of d.action) gives, in gitcanary-deployed, the phase the same
// line records, whatever the annotations say; so a new action fails here
// until the templates know it.
func TestEveryActionHasItsPhase(t *testing.T) {
	c := loadCatalogue(t)
	// Actions whose phase is set elsewhere than on their line.
	elsewhere := map[string]string{
		"step/%d/analysis/failed": "Abandoning",     // abandon()
		"background/failed":       "Abandoning",     // abandon()
		"set-weight/%d":           "FromAnnotation", // kept: the annotations say
	}
	files, err := filepath.Glob("../../pkg/machine/*.go")
	if err != nil {
		t.Fatal(err)
	}
	assign := regexp.MustCompile(`d\.action(?:, d\.\w+)* = (?:release\.(\w+), )?(?:fmt\.Sprintf\()?"([^"]+)"`)
	assign2 := regexp.MustCompile(`d\.phase, d\.action(?:, d\.\w+)* = release\.(\w+), (?:fmt\.Sprintf\()?"([^"]+)"`)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			var phase, format string
			if m := assign2.FindStringSubmatch(line); m != nil {
				phase, format = m[1], m[2]
			} else if m := assign.FindStringSubmatch(line); m != nil {
				format = m[2]
				var ok bool
				if phase, ok = elsewhere[format]; !ok {
					t.Errorf("%s: action %q has no phase on its line and none in this test", f, format)
					continue
				}
			} else {
				continue
			}
			n++
			action := strings.ReplaceAll(format, "%d", "1")
			rev := fmt.Sprintf("%040x", n)
			commits := commits{rev: gitcanaryMessage("reviews-v2", "apps/reviews", action, n, "v1=50,v2=50", "")}
			app := appObject{path: "apps/reviews", health: "Healthy", opPhase: "Succeeded", revision: rev,
				annotations: shown("reviews-v2", "FromAnnotation", "2/3", "v1=50,v2=50")}
			_, body := c.render(t, "gitcanary-deployed", vars(app.object(), commits))
			if body["phase"] != phase {
				t.Errorf("action %s (%s): phase %v, want %s", action, filepath.Base(f), body["phase"], phase)
			}
		}
	}
	if n < 15 {
		t.Errorf("found %d actions in pkg/machine; the pattern no longer matches its assignments", n)
	}
}
