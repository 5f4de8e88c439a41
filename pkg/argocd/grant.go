package argocd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// GrantAnnotation lists, comma-separated, the gitcanary instances allowed
// to sync an Application. gitcanary syncs nothing without it: an
// Application is the user's, and taking its syncs over is a decision they
// write down.
const GrantAnnotation = "gitcanary.io/grant"

// DefaultInstance is the name a gitcanary process goes by unless told
// otherwise (--instance).
const DefaultInstance = "gitcanary"

// ErrNotAuthorized means the Application does not grant syncs to this instance.
var ErrNotAuthorized = errors.New("the Application does not grant gitcanary its syncs")

// Granted wraps a client so that Sync refuses Applications that do not
// name instance in their grant annotation.
func Granted(c Client, instance string) Client { return &granted{Client: c, instance: instance} }

type granted struct {
	Client
	instance string
}

func (g *granted) Sync(ctx context.Context, name, revision string, prune bool) error {
	app, err := g.Get(ctx, name, false)
	if err != nil {
		return err
	}
	value := app.Annotations[GrantAnnotation]
	names := strings.Split(value, ",")
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
	}
	if !slices.Contains(names, g.instance) {
		have := "it has none"
		if value != "" {
			have = fmt.Sprintf("it has %q", value)
		}
		return fmt.Errorf("Application %s: add the annotation %s: %s to let gitcanary instance %q sync it (%s): %w",
			name, GrantAnnotation, g.instance, g.instance, have, ErrNotAuthorized)
	}
	return g.Client.Sync(ctx, name, revision, prune)
}

// Annotations gitcanary keeps on an Application while a release runs, so
// the Argo CD UI tells which release, in which phase, with what weights.
const (
	AnnotationRelease = "gitcanary.io/release"
	AnnotationPhase   = "gitcanary.io/phase"
	AnnotationStep    = "gitcanary.io/step"
	AnnotationWeights = "gitcanary.io/weights"
)
