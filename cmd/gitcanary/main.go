// Command gitcanary runs canary releases on an Istio mesh through git and Argo CD.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gitcanary/gitcanary/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
