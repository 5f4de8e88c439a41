package argocd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
)

// GrantAnnotation lists, comma-separated, the gitcanary instances allowed
// to sync an Application. gitcanary syncs nothing without it: an
// Application is the user's, and taking its syncs over is a decision they
// write down.
const GrantAnnotation = "gitcanary.io/grant"

// NamespacesAnnotation lists, comma-separated, the namespaces whose Release
// resources may drive an Application ("*": any namespace). Like Kargo's
// authorized-stage annotation, it sits on the Application, so only someone
// who may edit the Application can delegate it; a Release resource in a
// namespace it does not name is refused. Release files and the CLI carry
// no namespace and need only the instance grant (docs/security.md).
const NamespacesAnnotation = "gitcanary.io/release-namespaces"

// DefaultInstance is the name a gitcanary process goes by unless told
// otherwise (--instance).
const DefaultInstance = "gitcanary"

// ErrNotAuthorized means the Application does not grant gitcanary its
// syncs: not to this instance, or not to the Release's namespace.
var ErrNotAuthorized = errors.New("the Application does not grant gitcanary its syncs")

// Grant is who asks to drive an Application: a gitcanary instance and, for
// a Release resource, the resource's namespace ("" for Release files and
// the CLI, which the instance grant alone covers).
type Grant struct {
	Instance  string
	Namespace string
}

func (g Grant) instance() string {
	if g.Instance == "" {
		return DefaultInstance
	}
	return g.Instance
}

// Check reports, as an error wrapping ErrNotAuthorized, what the
// Application's annotations lack for g: each message names the annotation
// to add, key and value.
func (g Grant) Check(app *v1alpha1.Application) error {
	var problems []string
	if p := g.problem(app); p != "" {
		problems = append(problems, p)
	}
	if p := g.namespaceProblem(app); p != "" {
		problems = append(problems, p)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("Application %s: %s: %w", app.Name, strings.Join(problems, "; "), ErrNotAuthorized)
}

// problem is what the instance grant lacks, "" when nothing.
func (g Grant) problem(app *v1alpha1.Application) string {
	value := app.Annotations[GrantAnnotation]
	if slices.Contains(list(value), g.instance()) {
		return ""
	}
	return fmt.Sprintf("add the annotation %s: %s to let gitcanary instance %q sync it (%s)",
		GrantAnnotation, appendTo(value, g.instance()), g.instance(), has(value))
}

// namespaceProblem is what the namespace grant lacks, "" when nothing.
func (g Grant) namespaceProblem(app *v1alpha1.Application) string {
	if g.Namespace == "" {
		return ""
	}
	value := app.Annotations[NamespacesAnnotation]
	names := list(value)
	if slices.Contains(names, g.Namespace) || slices.Contains(names, "*") {
		return ""
	}
	return fmt.Sprintf("add the annotation %s: %s to let Release resources in namespace %q drive it (%s)",
		NamespacesAnnotation, appendTo(value, g.Namespace), g.Namespace, has(value))
}

// list splits a comma-separated annotation value, ignoring blanks.
func list(value string) []string {
	var out []string
	for _, n := range strings.Split(value, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// appendTo is the annotation value that keeps what value grants and adds name.
func appendTo(value, name string) string {
	return strings.Join(append(list(value), name), ",")
}

func has(value string) string {
	if value == "" {
		return "it has none"
	}
	return fmt.Sprintf("it has %q", value)
}

// Granted wraps a client so that Sync refuses Applications that do not
// name instance in their grant annotation.
func Granted(c Client, instance string) Client { return GrantedTo(c, Grant{Instance: instance}) }

// GrantedTo wraps a client so that Sync refuses Applications whose
// annotations do not grant g: the grant is read again before every sync,
// so removing it stops a release at its next sync.
func GrantedTo(c Client, g Grant) Client { return &granted{Client: c, grant: g} }

type granted struct {
	Client
	grant Grant
}

func (g *granted) Sync(ctx context.Context, name, revision string, prune bool) error {
	app, err := g.Get(ctx, name, false)
	if err != nil {
		return err
	}
	if err := g.grant.Check(app); err != nil {
		return err
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
