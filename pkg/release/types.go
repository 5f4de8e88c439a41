// Package release is gitcanary's domain model: the Release document (spec
// and status), its validation and the table of phase transitions. It is
// pure: no I/O, no clocks.
package release

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// APIVersion and Kind identify a Release document.
const (
	APIVersion = "gitcanary.io/v1alpha1"
	Kind       = "Release"
)

// Release is one canary release of one service, as a YAML file in git or a
// custom resource. The status is written by gitcanary only.
type Release struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`
	Status     *Status  `json:"status,omitempty"`
}

// Metadata is the part of Kubernetes object metadata a Release uses.
type Metadata struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Spec is what the user asks for.
type Spec struct {
	Repo     Repo     `json:"repo"`
	ArgoCD   ArgoCD   `json:"argocd"`
	Workload Workload `json:"workload"`
	// App is the base name of versioned workloads (<app>-<version>);
	// defaults to the first DNS label of traffic.host.
	App string `json:"app,omitempty"`
	// Version is the new version's label value and subset name.
	Version string `json:"version"`
	// StableVersion names the stable version's subset when its pod template
	// has no `version` label; gitcanary then adds that label to it.
	StableVersion string  `json:"stableVersion,omitempty"`
	Images        []Image `json:"images"`
	Traffic       Traffic `json:"traffic"`
	Steps         []Step  `json:"steps,omitempty"`
	// ProgressDeadline bounds how long one action may take to converge
	// before the release is abandoned (default 10m).
	ProgressDeadline *Duration `json:"progressDeadline,omitempty"`
	// Control is what people ask of the running release by editing it (a
	// Release custom resource or a file under releases/, driven by
	// `gitcanary run`). It is not part of what the release is: changing it
	// does not make a different release.
	Control *Control `json:"control,omitempty"`
	// Analysis holds what every analysis step uses (analysis.go).
	Analysis *AnalysisDefaults `json:"analysis,omitempty"`
	// Schedule holds the release's windows (schedule.go).
	Schedule *Schedule `json:"schedule,omitempty"`
	// Webhooks are called as the release goes (webhooks.go, docs/webhooks.md).
	Webhooks []Webhook `json:"webhooks,omitempty"`
}

// Control holds requests to a running release. gitcanary acts on each
// change once, when the release's phase allows it, and records what it
// acted on in status.control.
type Control struct {
	// Approvals counts the approvals given; each one ends one pause. An
	// approval given before a pause ends the next one.
	Approvals int32 `json:"approvals,omitempty"`
	// Weight is the new version's desired weight; a change routes it once.
	Weight *int32 `json:"weight,omitempty"`
	// Promote skips the remaining steps.
	Promote bool `json:"promote,omitempty"`
	// Abort abandons the release.
	Abort bool `json:"abort,omitempty"`
}

// SameRelease reports whether two specs describe the same release: equal
// but for Control.
func SameRelease(a, b Spec) bool {
	a.Control, b.Control = nil, nil
	return reflect.DeepEqual(a, b)
}

// Repo is the GitOps repository and the Argo CD Application's source path in it.
type Repo struct {
	URL    string `json:"url"`
	Branch string `json:"branch,omitempty"`
	Path   string `json:"path"`
}

// ArgoCD names the Application that deploys Repo.Path.
type ArgoCD struct {
	Application string `json:"application"`
}

// Workload is the stable workload the new version is copied from.
type Workload struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	// Addresses, for a WorkloadGroup only, are the new version's VMs:
	// gitcanary commits one WorkloadEntry per address. Without them the
	// VMs register themselves (auto-registration).
	Addresses []string `json:"addresses,omitempty"`
}

// Image is a kustomize image override for the new version.
type Image struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// Traffic says which host is split and where the VirtualService is bound.
type Traffic struct {
	// Host is the destination host the routes point at (the Service).
	Host string `json:"host"`
	// Hosts, when set, replaces the VirtualService's spec.hosts.
	Hosts []string `json:"hosts,omitempty"`
	// Gateways, when set, replaces the VirtualService's spec.gateways.
	Gateways []string `json:"gateways,omitempty"`
	// VirtualService and DestinationRule name the objects to manage when
	// more than one routes to Host.
	VirtualService  string `json:"virtualService,omitempty"`
	DestinationRule string `json:"destinationRule,omitempty"`
	// Aliases are other names of the service (short domains such as
	// "reviews-api"): each gets a ServiceEntry resolving to Host, and the
	// VirtualService routes them with the same weights.
	Aliases []string `json:"aliases,omitempty"`
}

// Step is one entry of spec.steps; exactly one field is set.
type Step struct {
	SetWeight *int32    `json:"setWeight,omitempty"`
	Pause     *Pause    `json:"pause,omitempty"`
	Analysis  *Analysis `json:"analysis,omitempty"`
}

// Pause waits for Duration, or until approved when Duration is absent.
type Pause struct {
	Duration *Duration `json:"duration,omitempty"`
}

// Duration is a time.Duration written as "90s", "2m", "1h30m".
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"2m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a form such as 90s, 2m or 1h30m", s)
	}
	d.Duration = v
	return nil
}

// DefaultProgressDeadline applies when spec.progressDeadline is absent.
const DefaultProgressDeadline = 10 * time.Minute

// Deadline returns the progress deadline in effect.
func (s Spec) Deadline() time.Duration {
	if s.ProgressDeadline == nil {
		return DefaultProgressDeadline
	}
	return s.ProgressDeadline.Duration
}

// BranchOrDefault returns the branch in effect (default main).
func (r Repo) BranchOrDefault() string {
	if r.Branch == "" {
		return "main"
	}
	return r.Branch
}

// Describe renders a step for people: "setWeight 10", "pause 2m0s", "pause until approved".
func (s Step) Describe() string {
	switch {
	case s.SetWeight != nil:
		return fmt.Sprintf("setWeight %d", *s.SetWeight)
	case s.Pause != nil && s.Pause.Duration != nil:
		return fmt.Sprintf("pause %s", s.Pause.Duration.Duration)
	case s.Pause != nil:
		return "pause until approved"
	case s.Analysis != nil && s.Analysis.Duration != nil:
		return fmt.Sprintf("analysis %s", s.Analysis.Duration.Duration)
	case s.Analysis != nil:
		return "analysis"
	}
	return "empty step"
}

// TimedLength is how long the release's steps take at the least: its
// timed pauses and its analyses' horizons (a step that waits for a person
// adds what that person takes: approval is set then).
func (s Spec) TimedLength() (d time.Duration, approval bool) {
	for _, st := range s.Steps {
		switch {
		case st.Pause != nil && st.Pause.Duration != nil:
			d += st.Pause.Duration.Duration
		case st.Pause != nil:
			approval = true
		case st.Analysis != nil && st.Analysis.Duration != nil:
			d += st.Analysis.Duration.Duration
		}
	}
	return d, approval
}
