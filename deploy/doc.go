// Package deploy holds the manifests that install gitcanary's controller
// (install/, crd/); its tests build them as a user would.
package deploy
