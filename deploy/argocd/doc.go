// Package argocd holds what Argo CD needs to show gitcanary Releases: a
// health check and resource actions in Lua, and the argocd-cm snippet that
// carries them (docs/argocd-ui.md). Its tests run the Lua in Argo CD's own
// Lua VM and keep the snippet equal to the Lua files.
//
// It also holds the Argo CD Notifications catalogue for releases,
// argocd-notifications-cm.yaml, generated from notifications/
// (docs/notifications.md); its tests compile the triggers with the
// notifications engine and run them, and the templates, on Applications
// with Argo CD's own expression helpers.
package argocd

//go:generate go test -run TestSnippetIsGenerated|TestNotificationsSnippetIsGenerated -update .
