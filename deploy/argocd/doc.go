// Package argocd holds what Argo CD needs to show gitcanary Releases: a
// health check and resource actions in Lua, and the argocd-cm snippet that
// carries them (docs/argocd-ui.md). Its tests run the Lua in Argo CD's own
// Lua VM and keep the snippet equal to the Lua files.
package argocd

//go:generate go test -run TestSnippetIsGenerated -update .
