package main

// Temporary: pins the dependency set until real imports exist.
import (
	_ "github.com/argoproj/argo-cd/v2/pkg/apiclient"
	_ "github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	_ "github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	_ "github.com/go-git/go-git/v5"
	_ "github.com/robfig/cron/v3"
	_ "github.com/spf13/cobra"
	_ "istio.io/client-go/pkg/clientset/versioned"
	_ "k8s.io/client-go/dynamic"
	_ "sigs.k8s.io/controller-runtime"
	_ "sigs.k8s.io/kustomize/api/krusty"
	_ "sigs.k8s.io/yaml"
)

func main() {}
