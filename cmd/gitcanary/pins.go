//go:build pins

package main

// Pins dependencies later work builds on (the controller: controller-runtime;
// typed Istio clients), so `go mod tidy` keeps the versions
// chosen to compile beside argo-cd/v2's apiclient. The build tag keeps them
// out of the binary. See docs/dependencies.md.
import (
	_ "istio.io/client-go/pkg/clientset/versioned"
	_ "sigs.k8s.io/controller-runtime"
)
