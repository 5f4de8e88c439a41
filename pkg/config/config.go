// Package config reads gitcanary's configuration file: the custom
// workload kinds a release may copy, described by where their facts live
// instead of by code, and the headers and secrets of webhooks.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/webhook"
)

// File is the configuration file.
type File struct {
	// CustomWorkloads are workload kinds beyond the built-in Deployment,
	// StatefulSet, DaemonSet and WorkloadGroup.
	CustomWorkloads []CustomWorkload `json:"customWorkloads,omitempty"`
	// Webhooks give the webhooks of releases (spec.webhooks) their
	// headers and signing secrets, matched by name or URL prefix
	// (docs/webhooks.md#secrets). They never appear in a Release.
	Webhooks []webhook.Auth `json:"webhooks,omitempty"`
	// WebHeaders are the headers of web metrics, by URL prefix (web.go).
	WebHeaders []WebHeaders `json:"webHeaders,omitempty"`
}

// CustomWorkload describes one workload kind by field paths.
type CustomWorkload struct {
	// Name identifies the entry, conventionally the resource ("deploymentconfigs").
	Name string `json:"name"`
	// LocalizedName is the kind's display name by locale ("zh-CN").
	LocalizedName map[string]string `json:"localizedName,omitempty"`
	// ResourceSchema names the kind in the API.
	ResourceSchema ResourceSchema `json:"resourceSchema"`
	// Path says where the kind keeps its pod template and replica counts.
	Path Paths `json:"path"`
	// HelperPods names pods the kind's controller runs beside the
	// workload's own ("deployer pods"); lint warns when a namespace label
	// would inject a sidecar into them.
	HelperPods string `json:"helperPods,omitempty"`
}

// ResourceSchema is group, version, kind and resource (the plural).
type ResourceSchema struct {
	Group    string `json:"group"`
	Version  string `json:"version"`
	Kind     string `json:"kind"`
	Resource string `json:"resource"`
}

// Paths are dot paths from the object's root.
type Paths struct {
	PodTemplate         string `json:"podTemplate"`
	Replicas            string `json:"replicas"`
	StatusReadyReplicas string `json:"statusReadyReplicas"`
	// Selector is the label selector's map (default .spec.selector.matchLabels).
	Selector string `json:"selector,omitempty"`
}

// DefaultSelector is the selector path of a custom kind that names none.
const DefaultSelector = ".spec.selector.matchLabels"

// Env names the variable that points at the configuration file.
const Env = "GITCANARY_CONFIG"

// DefaultPath is where the file is looked for when neither the flag nor
// GITCANARY_CONFIG names one: gitcanary/config.yaml in the user's config
// directory (XDG_CONFIG_HOME or ~/.config on Linux).
func DefaultPath() string {
	d, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "gitcanary", "config.yaml")
}

// Load reads the file at path. An explicit path must exist; the default
// path may be absent (then the configuration is empty).
func Load(path string, explicit bool) (*File, error) {
	if path == "" {
		return &File{}, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return &File{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse reads a configuration strictly: an unknown or duplicate field is an
// error naming it. source names the file in errors.
func Parse(data []byte, source string) (*File, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	var f File
	strict, err := sigsjson.UnmarshalStrict(js, &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if len(strict) > 0 {
		var msgs []string
		for _, e := range strict {
			msgs = append(msgs, e.Error())
		}
		return nil, fmt.Errorf("%s: %s", source, strings.Join(msgs, "; "))
	}
	if _, err := f.kinds(source); err != nil {
		return nil, err
	}
	// The variables are read when the webhooks are wired (WebhookAuth);
	// here only the entries' form is checked.
	if _, err := webhook.Resolve(f.Webhooks, func(string) string { return "set" }); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if err := f.checkWebHeaders(source, os.LookupEnv); err != nil {
		return nil, err
	}
	return &f, nil
}

// Kinds returns a registry with the built-in kinds and the configured ones.
func (f *File) Kinds() (*kube.Kinds, error) { return f.kinds("config") }

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

func (f *File) kinds(source string) (*kube.Kinds, error) {
	kinds := kube.NewKinds()
	var problems []string
	for i, w := range f.CustomWorkloads {
		at := fmt.Sprintf("customWorkloads[%d]", i)
		if w.Name != "" {
			at = fmt.Sprintf("customWorkloads[%d] (%s)", i, w.Name)
		}
		var bad []string
		if !nameRE.MatchString(w.Name) {
			bad = append(bad, fmt.Sprintf("name %q must be a lower-case DNS name such as deploymentconfigs", w.Name))
		}
		for field, v := range map[string]string{"podTemplate": w.Path.PodTemplate, "replicas": w.Path.Replicas, "statusReadyReplicas": w.Path.StatusReadyReplicas} {
			if v == "" {
				bad = append(bad, "path."+field+" is required")
			}
		}
		if len(bad) > 0 {
			slices.Sort(bad)
			problems = append(problems, at+": "+strings.Join(bad, "; "))
			continue
		}
		sel := w.Path.Selector
		if sel == "" {
			sel = DefaultSelector
		}
		kind := kube.Kind{
			Group: w.ResourceSchema.Group, Version: w.ResourceSchema.Version,
			Kind: w.ResourceSchema.Kind, Resource: w.ResourceSchema.Resource,
			PodTemplate: w.Path.PodTemplate, Selector: sel,
			Replicas: w.Path.Replicas, ReadyReplicas: w.Path.StatusReadyReplicas,
			Name: w.Name, LocalizedNames: w.LocalizedName, HelperPods: w.HelperPods,
		}
		if err := kinds.Register(kind); err != nil {
			problems = append(problems, at+": "+err.Error())
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", source, strings.Join(problems, "\n  "))
	}
	return kinds, nil
}

// WebhookAuth returns the webhooks' headers and secrets, with the values
// of their FromEnv fields read through getenv.
func (f *File) WebhookAuth(getenv func(string) string) ([]webhook.Auth, error) {
	a, err := webhook.Resolve(f.Webhooks, getenv)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return a, nil
}
