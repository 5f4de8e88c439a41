// Package templates holds manifests gitcanary's tooling fills in: the Argo
// CD Application for an app gitcanary releases (manual sync by default, or
// automated), and a Release of the fixture app.
package templates

import (
	"bytes"
	"embed"
	"text/template"
)

//go:embed *.yaml
var files embed.FS

// ApplicationParams fill application.yaml.
type ApplicationParams struct {
	Name      string // Application name, in namespace argocd
	RepoURL   string
	Path      string
	Revision  string // branch
	Namespace string // destination namespace
	// ReleaseNamespaces, comma-separated, may drive the Application with
	// Release resources (gitcanary.io/release-namespaces); "" leaves the
	// annotation out.
	ReleaseNamespaces string
	// Automated turns on Argo CD's automated sync with these options; nil
	// (the default) leaves the Application manual-sync.
	Automated *AutomatedSync
}

// AutomatedSync is spec.syncPolicy.automated of an Application.
type AutomatedSync struct {
	Prune    bool // delete live objects git no longer has
	SelfHeal bool // undo changes made in the cluster behind git's back
}

// Application renders an Argo CD Application for an app released by gitcanary.
func Application(p ApplicationParams) ([]byte, error) { return render("application.yaml", p) }

// ReleaseParams fill release.yaml; empty fields take the fixture's values.
type ReleaseParams struct {
	Name             string // default reviews-v2
	RepoURL          string
	Path             string // the app path in the repository, default apps/reviews
	Application      string // default reviews
	Namespace        string // default bookinfo
	Kind             string // the stable workload's kind, default Deployment
	Workload         string // the stable workload, default reviews-v1
	Version          string // default v2
	StableVersion    string // optional: names the stable subset when its pod template has no version label
	Tag              string // the new image tag, default 2.0
	Steps            string // a YAML flow list, default [{setWeight: 10}, {setWeight: 50}, {setWeight: 100}]
	ProgressDeadline string // optional, e.g. 5m
	Analysis         string // optional: spec.analysis as a YAML flow map
	Schedule         string // optional: spec.schedule as a YAML flow map

	// Addresses, for a WorkloadGroup, are the new version's VMs (optional).
	// A WorkloadGroup's Release has no images: its VMs hold the software.
	Addresses []string
}

// Release renders a Release of the fixture reviews app.
func Release(p ReleaseParams) ([]byte, error) {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&p.Name, "reviews-v2")
	def(&p.Path, "apps/reviews")
	def(&p.Application, "reviews")
	def(&p.Namespace, "bookinfo")
	def(&p.Kind, "Deployment")
	def(&p.Workload, "reviews-v1")
	def(&p.Version, "v2")
	def(&p.Tag, "2.0")
	def(&p.Steps, "[{setWeight: 10}, {setWeight: 50}, {setWeight: 100}]")
	return render("release.yaml", p)
}

func render(name string, data any) ([]byte, error) {
	t, err := template.ParseFS(files, name)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = t.Execute(&b, data)
	return b.Bytes(), err
}
