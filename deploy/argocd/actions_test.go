package argocd

import (
	"maps"
	"slices"
	"strings"
	"testing"

	argolua "github.com/argoproj/argo-cd/v2/util/lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// refusal is how each action's error begins when it does not apply.
var refusal = map[string]string{
	"approve": "approve: ", "promote": "promote: ", "abort": "abort: ",
	"weight-0": "set weight: ", "weight-plus-10": "set weight: ", "weight-50": "set weight: ", "weight-100": "set weight: ",
}

func patch(control string) string { return `{"spec":{"control":{` + control + `}}}` }

// actionCase lists the actions enabled on a sample, each with the merge
// patch it makes Argo CD send; every other action is disabled.
type actionCase struct {
	sample  string
	enabled map[string]string
}

func actionCases() []actionCase {
	steer := func(w0, up, w50, w100 string) map[string]string {
		m := map[string]string{"promote": patch(`"promote":true`), "abort": patch(`"abort":true`)}
		for name, w := range map[string]string{"weight-0": w0, "weight-plus-10": up, "weight-50": w50, "weight-100": w100} {
			if w != "" {
				m[name] = patch(`"weight":` + w)
			}
		}
		return m
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	abortOnly := map[string]string{"abort": patch(`"abort":true`)}
	return []actionCase{
		{"new", nil},
		{"stalled-new", nil},
		{"preparing", abortOnly},
		{"routing", steer("", "10", "50", "100")},
		{"progressing", steer("0", "20", "50", "100")},
		{"stalled", steer("0", "20", "50", "100")},
		// promote and weight 100 are asked for already: asking again changes nothing.
		{"progressing-requested", with(steer("0", "60", "", ""), "promote", "")},
		{"progressing-100", steer("0", "", "50", "")},
		// Approvals end only pauses without a duration.
		{"paused-timed", steer("0", "20", "50", "100")},
		{"paused-approval", with(steer("0", "60", "", "100"), "approve", patch(`"approvals":1`))},
		// An approval gitcanary has not acted on: another one would end the next pause too.
		{"paused-pending", steer("0", "60", "", "100")},
		{"paused-approved", steer("0", "60", "", "100")},
		// An analysis goes on at a new weight; an Inconclusive one is a pause approve ends.
		{"analyzing", steer("0", "20", "50", "100")},
		{"paused-inconclusive", with(steer("0", "20", "50", "100"), "approve", patch(`"approvals":1`))},
		{"promoting", abortOnly},
		{"retiring", nil},
		{"promoted", nil},
		{"abandoning", nil},
		{"reverting", nil},
		{"abandoned", nil},
	}
}

// TestActions runs discovery.lua and every action.lua on each sample: an
// enabled action makes its patch, a disabled one refuses.
func TestActions(t *testing.T) {
	vm := argolua.VM{ResourceOverrides: overrides(t)}
	names := actionNames(t)
	for _, c := range actionCases() {
		t.Run(c.sample, func(t *testing.T) {
			obj := sample(t, c.sample)
			disabled := discover(t, vm, obj)
			if got := slices.Sorted(maps.Keys(disabled)); !slices.Equal(got, names) {
				t.Fatalf("discovery lists %v; actions/ defines %v", got, names)
			}
			for _, name := range names {
				want, enabled := c.enabled[name]
				if disabled[name] == enabled {
					t.Errorf("%s: disabled = %v, want %v", name, disabled[name], !enabled)
				}
				got, err := run(t, vm, obj, name)
				switch {
				case enabled && err != nil:
					t.Errorf("%s: %v", name, err)
				case enabled && got != want:
					t.Errorf("%s patches %s\nwant         %s", name, got, want)
				case !enabled && (err == nil || !strings.HasPrefix(err.Error(), refusal[name])):
					t.Errorf("%s: want a refusal starting %q, got patch %s, error %v", name, refusal[name], got, err)
				}
			}
		})
	}
}

// TestActionsFollowTransitions checks discovery against the transition
// table: promote where a phase may move to Promoting, abort where it may
// move to Abandoning, a weight where it may move to Progressing, approve
// while Paused (at a pause without a duration). These are the phases in
// which pkg/machine acts on spec.control.
func TestActionsFollowTransitions(t *testing.T) {
	vm := argolua.VM{ResourceOverrides: overrides(t)}
	for phase, next := range release.Transitions {
		obj := sample(t, "routing")
		if err := unstructured.SetNestedField(obj.Object, int64(3), "status", "step"); err != nil {
			t.Fatal(err)
		}
		if phase == "" {
			unstructured.RemoveNestedField(obj.Object, "status")
		} else if err := unstructured.SetNestedField(obj.Object, string(phase), "status", "phase"); err != nil {
			t.Fatal(err)
		}
		steer := slices.Contains(next, release.Progressing)
		want := map[string]bool{
			"approve":        phase == release.Paused,
			"promote":        slices.Contains(next, release.Promoting),
			"abort":          slices.Contains(next, release.Abandoning),
			"weight-plus-10": steer,
			"weight-50":      steer,
			"weight-100":     steer,
			"weight-0":       false, // v2 is at 0 already
		}
		disabled := discover(t, vm, obj)
		for name, enabled := range want {
			if disabled[name] == enabled {
				t.Errorf("phase %q: %s disabled = %v, want %v", phase, name, disabled[name], !enabled)
			}
			if _, err := run(t, vm, obj, name); (err == nil) != enabled {
				t.Errorf("phase %q: %s: error %v, want enabled = %v", phase, name, err, enabled)
			}
		}
	}
}
