package release

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gitcanary/gitcanary/pkg/redact"
)

// BuiltinKinds are the workload kinds every gitcanary knows.
var BuiltinKinds = []string{"Deployment", "StatefulSet", "DaemonSet", "WorkloadGroup"}

// vmKind is Istio's WorkloadGroup: a version of a service on VMs.
const vmKind = "WorkloadGroup"

// ValidateOptions tune Validate; the zero value checks against BuiltinKinds.
type ValidateOptions struct {
	// KnownKind reports whether a workload kind can be released.
	KnownKind func(kind string) bool
	// AllowStatus accepts a status block (for records read back from git).
	AllowStatus bool
}

// Validate checks every value of a Release and returns an *InvalidError
// listing each problem with its field path, or nil.
func Validate(r *Release, opts ValidateOptions) error {
	v := &validator{}
	if r.APIVersion != APIVersion {
		v.add("apiVersion", "must be %s, got %q", APIVersion, r.APIVersion)
	}
	if r.Kind != Kind {
		v.add("kind", "must be %s, got %q", Kind, r.Kind)
	}
	v.dnsLabel("metadata.name", r.Metadata.Name)
	if r.Status != nil && !opts.AllowStatus {
		v.add("status", "is written by gitcanary; remove it from the file")
	}
	v.spec(&r.Spec, opts)
	if len(v.errs) == 0 {
		return nil
	}
	return &InvalidError{Errors: v.errs}
}

type validator struct{ errs []FieldError }

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Path: path, Reason: fmt.Sprintf(format, args...)})
}

func (v *validator) required(path, value string) bool {
	if strings.TrimSpace(value) == "" {
		v.add(path, "is required")
		return false
	}
	return true
}

func (v *validator) dnsLabel(path, value string) {
	if !v.required(path, value) {
		return
	}
	if errs := validation.IsDNS1123Label(value); len(errs) > 0 {
		v.add(path, "%q is not a DNS-1123 label: %s", value, errs[0])
	}
}

func (v *validator) dnsSubdomain(path, value string) {
	if !v.required(path, value) {
		return
	}
	if errs := validation.IsDNS1123Subdomain(value); len(errs) > 0 {
		v.add(path, "%q is not a DNS-1123 subdomain: %s", value, errs[0])
	}
}

func (v *validator) spec(s *Spec, opts ValidateOptions) {
	v.repo(s.Repo)
	v.dnsSubdomain("spec.argocd.application", s.ArgoCD.Application)
	v.workload(s.Workload, opts)
	if s.App != "" {
		v.dnsLabel("spec.app", s.App)
	}
	v.version("spec.version", s.Version)
	if s.StableVersion != "" {
		v.version("spec.stableVersion", s.StableVersion)
		if s.StableVersion == s.Version {
			v.add("spec.stableVersion", "must differ from spec.version (%q)", s.Version)
		}
	}
	if app := s.AppName(); app != "" && s.Version != "" {
		if name := app + "-" + s.Version; len(validation.IsDNS1123Subdomain(name)) > 0 {
			v.add("spec.version", "the new workload name %q is not a valid object name", name)
		}
	}
	if s.Workload.Kind == vmKind {
		if len(s.Images) > 0 {
			v.add("spec.images", "a WorkloadGroup has no images: the new version's software is installed on its VMs; remove spec.images")
		}
	} else {
		v.images(s.Images)
	}
	v.traffic(s.Traffic)
	v.steps(s.Steps)
	v.analysisDefaults(s.Analysis, len(s.Steps))
	v.schedule("spec.schedule", s.Schedule)
	v.webhooks(s.Webhooks)
	if c := s.Control; c != nil {
		if c.Approvals < 0 {
			v.add("spec.control.approvals", "must not be negative, got %d", c.Approvals)
		}
		if c.Weight != nil && (*c.Weight < 0 || *c.Weight > 100) {
			v.add("spec.control.weight", "must be between 0 and 100, got %d", *c.Weight)
		}
	}
	if s.ProgressDeadline != nil && s.ProgressDeadline.Duration <= 0 {
		v.add("spec.progressDeadline", "must be positive, got %s", s.ProgressDeadline.Duration)
	}
}

func (v *validator) repo(r Repo) {
	if v.required("spec.repo.url", r.URL) {
		if what := redact.Credential(r.URL); what != "" {
			// The record, with this URL, is committed and printed: refuse
			// before anything is written, without quoting it.
			v.add("spec.repo.url", "carries %s; credentials never go in a repository URL, which is committed, printed and logged: %s", what, redact.Where)
		} else if u, err := url.Parse(r.URL); err != nil {
			v.add("spec.repo.url", "%q is not a URL: %v", redact.URL(r.URL), redact.Error(err))
		} else if !slices.Contains([]string{"git", "http", "https", "file", "ssh"}, u.Scheme) {
			v.add("spec.repo.url", "scheme %q is not supported; use git://, http(s)://, ssh:// or file://", u.Scheme)
		}
	}
	if r.Branch != "" && !validBranch(r.Branch) {
		v.add("spec.repo.branch", "%q is not a valid branch name", r.Branch)
	}
	if v.required("spec.repo.path", r.Path) {
		switch clean := path.Clean(r.Path); {
		case path.IsAbs(r.Path):
			v.add("spec.repo.path", "must be relative to the repository root, got %q", r.Path)
		case clean == ".." || strings.HasPrefix(clean, "../"):
			v.add("spec.repo.path", "must stay inside the repository, got %q", r.Path)
		}
	}
}

func validBranch(b string) bool {
	if strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".lock") || strings.Contains(b, "..") || strings.Contains(b, "@{") {
		return false
	}
	return !strings.ContainsAny(b, " ~^:?*[\\\t\n")
}

func (v *validator) workload(w Workload, opts ValidateOptions) {
	known := opts.KnownKind
	if known == nil {
		known = func(k string) bool { return slices.Contains(BuiltinKinds, k) }
	}
	if v.required("spec.workload.kind", w.Kind) && !known(w.Kind) {
		v.add("spec.workload.kind", "unknown workload kind %q; built in: %s (others are configured as custom workloads)", w.Kind, strings.Join(BuiltinKinds, ", "))
	}
	v.dnsSubdomain("spec.workload.name", w.Name)
	v.dnsLabel("spec.workload.namespace", w.Namespace)
	if len(w.Addresses) > 0 && w.Kind != vmKind {
		v.add("spec.workload.addresses", "only a WorkloadGroup has addresses (one WorkloadEntry per VM); %s pods get theirs from Kubernetes", w.Kind)
	}
	seen := map[string]bool{}
	for i, a := range w.Addresses {
		p := fmt.Sprintf("spec.workload.addresses[%d]", i)
		switch {
		case net.ParseIP(a) == nil && len(validation.IsDNS1123Subdomain(a)) > 0:
			v.add(p, "%q is neither an IP address nor a DNS name", a)
		case seen[a]:
			v.add(p, "%q is listed twice", a)
		}
		seen[a] = true
	}
}

func (v *validator) version(path, value string) {
	if !v.required(path, value) {
		return
	}
	if errs := validation.IsValidLabelValue(value); len(errs) > 0 {
		v.add(path, "%q is not a valid label value: %s", value, errs[0])
		return
	}
	if errs := validation.IsDNS1123Label(value); len(errs) > 0 {
		v.add(path, "%q must be a DNS-1123 label (lower case letters, digits and '-'), since it names a subset and a workload", value)
	}
}

func (v *validator) images(images []Image) {
	if len(images) == 0 {
		v.add("spec.images", "at least one image override is required: a canary must change something")
	}
	seen := map[string]bool{}
	for i, im := range images {
		p := fmt.Sprintf("spec.images[%d]", i)
		if !v.required(p+".name", im.Name) {
			continue
		}
		if seen[im.Name] {
			v.add(p+".name", "image %q is listed twice", im.Name)
		}
		seen[im.Name] = true
		if im.NewName == "" && im.NewTag == "" && im.Digest == "" {
			v.add(p, "sets none of newName, newTag, digest")
		}
		if im.NewTag != "" && !validTag(im.NewTag) {
			v.add(p+".newTag", "%q is not a valid image tag", im.NewTag)
		}
		if im.Digest != "" && !strings.HasPrefix(im.Digest, "sha256:") {
			v.add(p+".digest", "%q must start with sha256:", im.Digest)
		}
	}
}

func validTag(t string) bool {
	if len(t) > 128 || strings.HasPrefix(t, ".") || strings.HasPrefix(t, "-") {
		return false
	}
	for _, c := range t {
		if !(c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (v *validator) traffic(t Traffic) {
	v.dnsSubdomain("spec.traffic.host", t.Host)
	for i, h := range t.Hosts {
		if strings.TrimSpace(h) == "" {
			v.add(fmt.Sprintf("spec.traffic.hosts[%d]", i), "is empty")
		}
	}
	for i, g := range t.Gateways {
		if strings.TrimSpace(g) == "" {
			v.add(fmt.Sprintf("spec.traffic.gateways[%d]", i), "is empty")
		}
	}
	seen := map[string]bool{}
	for i, a := range t.Aliases {
		p := fmt.Sprintf("spec.traffic.aliases[%d]", i)
		switch {
		case len(validation.IsDNS1123Subdomain(a)) > 0:
			v.add(p, "%q is not a DNS name", a)
		case a == t.Host || a == strings.SplitN(t.Host, ".", 2)[0]:
			v.add(p, "%q is the service's own host, not an alias", a)
		case seen[a]:
			v.add(p, "%q is listed twice", a)
		}
		seen[a] = true
	}
}

func (v *validator) steps(steps []Step) {
	for i, s := range steps {
		p := fmt.Sprintf("spec.steps[%d]", i)
		n := 0
		for _, set := range []bool{s.SetWeight != nil, s.Pause != nil, s.Analysis != nil} {
			if set {
				n++
			}
		}
		switch {
		case n == 0:
			v.add(p, "has no action; set exactly one of setWeight, pause, analysis")
			continue
		case n > 1:
			v.add(p, "has %d actions; set exactly one of setWeight, pause, analysis", n)
			continue
		}
		switch {
		case s.SetWeight != nil && (*s.SetWeight < 0 || *s.SetWeight > 100):
			v.add(p+".setWeight", "must be between 0 and 100, got %d", *s.SetWeight)
		case s.Pause != nil && s.Pause.Duration != nil && s.Pause.Duration.Duration <= 0:
			v.add(p+".pause.duration", "must be positive, got %s; omit it to pause until approved", s.Pause.Duration.Duration)
		case s.Analysis != nil:
			v.analysis(p+".analysis", s.Analysis)
		}
	}
}

// AppName returns the base name of versioned workloads.
func (s Spec) AppName() string {
	if s.App != "" {
		return s.App
	}
	host, _, _ := strings.Cut(s.Traffic.Host, ".")
	return host
}

// WorkloadName returns the new version's workload name, <app>-<version>.
func (s Spec) WorkloadName() string { return s.AppName() + "-" + s.Version }

// ValidateRepo checks a repository location given outside a Release file
// (on the command line), with the rules of spec.repo; the errors name the
// spec.repo fields.
func ValidateRepo(r Repo) error {
	v := &validator{}
	v.repo(r)
	if len(v.errs) == 0 {
		return nil
	}
	return &InvalidError{Errors: v.errs}
}

// ValidateName checks a release's name given outside a Release file.
func ValidateName(name string) error {
	v := &validator{}
	v.dnsLabel("metadata.name", name)
	if len(v.errs) == 0 {
		return nil
	}
	return &InvalidError{Errors: v.errs}
}
