package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// where holds the flags that name a release in a repository: a Release
// file, or --repo/--path (env GITCANARY_REPO, GITCANARY_PATH).
type where struct {
	file   string
	repo   string
	branch string
	path   string
	// repoFlag tells --repo from GITCANARY_REPO in messages.
	repoFlag *pflag.Flag
}

func (w *where) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&w.file, "file", "f", "", "the Release file (gives the repository and path)")
	f.StringVar(&w.repo, "repo", os.Getenv("GITCANARY_REPO"), "app repository URL, without credentials (env GITCANARY_REPO)")
	w.repoFlag = f.Lookup("repo")
	f.StringVar(&w.branch, "branch", "main", "branch of the app repository")
	f.StringVar(&w.path, "path", os.Getenv("GITCANARY_PATH"), "app path in the repository (env GITCANARY_PATH)")
}

// resolve names the release: the NAME argument, else the file's name.
func (w *where) resolve(g *globals, args []string) (string, release.Repo, error) {
	var name string
	if len(args) > 0 {
		name = args[0]
	}
	if w.file != "" {
		r, err := g.readRelease(w.file)
		if err != nil {
			return "", release.Repo{}, err
		}
		if name != "" && name != r.Metadata.Name {
			return "", release.Repo{}, exit(ExitInvalid, fmt.Errorf("release %s was named but %s describes %s", name, w.file, r.Metadata.Name))
		}
		return r.Metadata.Name, r.Spec.Repo, nil
	}
	if name == "" {
		return "", release.Repo{}, exit(ExitInvalid, fmt.Errorf("name the release: NAME with --repo and --path, or -f FILE"))
	}
	if w.repo == "" || w.path == "" {
		return "", release.Repo{}, exit(ExitInvalid, fmt.Errorf("release %s: say where it lives with --repo URL --path APP_PATH (or GITCANARY_REPO/GITCANARY_PATH), or -f FILE", name))
	}
	field := "GITCANARY_REPO"
	if w.repoFlag != nil && w.repoFlag.Changed {
		field = "--repo"
	}
	if err := redact.CheckURL(field, w.repo); err != nil {
		return "", release.Repo{}, exit(ExitInvalid, err)
	}
	repo := release.Repo{URL: w.repo, Branch: w.branch, Path: w.path}
	if err := release.ValidateName(name); err != nil {
		return "", release.Repo{}, exit(ExitInvalid, fmt.Errorf("release name %q: %s", name, fieldReasons(err)))
	}
	if err := release.ValidateRepo(repo); err != nil {
		return "", release.Repo{}, exit(ExitInvalid, fmt.Errorf("%s", flagReasons(err)))
	}
	return name, repo, nil
}

// repoFlags names the flags that give the spec.repo fields.
var repoFlags = strings.NewReplacer("spec.repo.url:", "--repo:", "spec.repo.branch:", "--branch:", "spec.repo.path:", "--path:")

// flagReasons lists an InvalidError's problems with spec.repo's fields
// named as the flags that gave them.
func flagReasons(err error) string { return repoFlags.Replace(fieldLines(err, true)) }

// fieldReasons lists an InvalidError's reasons without their paths.
func fieldReasons(err error) string { return fieldLines(err, false) }

func fieldLines(err error, withPath bool) string {
	var inv *release.InvalidError
	if !errors.As(err, &inv) {
		return err.Error()
	}
	var lines []string
	for _, fe := range inv.Errors {
		if withPath {
			lines = append(lines, fe.String())
		} else {
			lines = append(lines, fe.Reason)
		}
	}
	return strings.Join(lines, "; ")
}

// waiting holds --wait-for and --timeout.
type waiting struct {
	waitFor   string
	timeout   time.Duration
	abandonOK bool // the command itself abandons (abort)
}

func (w *waiting) flags(cmd *cobra.Command, def string) {
	cmd.Flags().StringVar(&w.waitFor, "wait-for", def, "drive the release until: none (commit only), approval (it waits for an approval, or ends), done, or a phase such as paused or Progressing")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 30*time.Minute, "give up waiting after this long (exit code 4)")
}

// until turns --wait-for into a stop condition.
func (w *waiting) until() (machine.Until, error) {
	switch v := strings.ToLower(w.waitFor); v {
	case "none", "":
		return nil, nil
	case "done":
		return func(o machine.Outcome) bool { return o.Done }, nil
	case "approval":
		return func(o machine.Outcome) bool { return o.Done || o.Awaiting }, nil
	default:
		for p := range release.Transitions {
			if p != "" && strings.EqualFold(string(p), v) {
				return func(o machine.Outcome) bool {
					return o.Done || (o.Converged && o.Release.Status.Phase == p)
				}, nil
			}
		}
		return nil, exit(ExitInvalid, fmt.Errorf("--wait-for %q: use none, approval, done or a phase (Preparing, Routing, Progressing, Paused, Promoting, Promoted, Abandoned, …)", w.waitFor))
	}
}

// drive runs the release until --wait-for holds, printing progress.
func (g *globals) drive(ctx context.Context, name string, repo release.Repo, w waiting) error {
	until, err := w.until()
	if err != nil || until == nil {
		return err
	}
	deps, closeFn, err := g.deps(ctx, repo, true)
	if err != nil {
		return err
	}
	defer closeFn()
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	m := machine.New(deps, name, repo.Path)
	p := &progress{out: g.stdout}
	rec, err := m.Run(ctx, until, p.report)
	if ctx.Err() == context.DeadlineExceeded {
		where := ""
		if rec != nil {
			where = fmt.Sprintf(" (release is %s, weights %s)", rec.Status.Phase, release.FormatWeights(rec.Status.Weights))
		}
		return exit(ExitTimeout, fmt.Errorf("timed out after %s waiting for %s%s", w.timeout, w.waitFor, where))
	}
	if err != nil {
		return err
	}
	final, _, err := m.Load(ctx)
	if err != nil {
		return err
	}
	return g.finished(name, final, w)
}

// finished reports where a release stands once driving it ended; an
// abandoned release is exit 3 unless an abandon was asked for.
func (g *globals) finished(name string, final *release.Release, w waiting) error {
	fmt.Fprintf(g.stdout, "%s: %s, weights %s\n", name, final.Status.Phase, release.FormatWeights(final.Status.Weights))
	// Abandoned is a failure unless it is what was asked for: an abort, or --wait-for=Abandoned.
	if final.Status.Phase == release.Abandoned && !w.abandonOK && !strings.EqualFold(w.waitFor, string(release.Abandoned)) {
		return exit(ExitAbandoned, fmt.Errorf("release %s was abandoned: %s: %s", name, final.Status.Reason, final.Status.Message))
	}
	return nil
}

// progress prints one line whenever what the release does changes.
type progress struct {
	out  io.Writer
	last string
}

func (p *progress) report(o machine.Outcome) {
	st := o.Release.Status
	step := ""
	if st.Step >= 0 && st.Step < len(o.Release.Spec.Steps) {
		step = fmt.Sprintf(" step %d/%d", st.Step+1, len(o.Release.Spec.Steps))
	}
	what := o.Reason
	if o.Did != "" {
		what = o.Did + " " + shortHash(o.Commit)
	}
	line := fmt.Sprintf("%-11s%s %s | %s", st.Phase, step, release.FormatWeights(st.Weights), what)
	if line == p.last {
		return
	}
	p.last = line
	fmt.Fprintf(p.out, "%s %s\n", time.Now().Format("15:04:05"), line)
}

var shortHash = git.ShortHash
