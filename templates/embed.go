// Package templates holds manifests gitcanary's tooling fills in: the Argo
// CD Application for an app gitcanary releases (manual sync: gitcanary
// syncs every commit itself).
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
}

// Application renders an Argo CD Application for an app released by gitcanary.
func Application(p ApplicationParams) ([]byte, error) {
	t, err := template.ParseFS(files, "application.yaml")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = t.Execute(&b, p)
	return b.Bytes(), err
}
