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

// deadline bounds the whole command, its commit and the driving after
// it, by --timeout: transient failures are retried until then.
func (w *waiting) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, w.timeout)
}

// timedOut is the exit 4 error: where the release stands, and what it
// last waited for or the last error that kept it from moving.
func (w *waiting) timedOut(rec *release.Release, last string) error {
	msg := fmt.Sprintf("timed out after %s waiting for %s", w.timeout, w.waitFor)
	if w.waitFor == "" || strings.EqualFold(w.waitFor, "none") {
		msg = fmt.Sprintf("timed out after %s", w.timeout)
	}
	if rec != nil && rec.Status != nil {
		msg += fmt.Sprintf(" (release is %s, weights %s)", rec.Status.Phase, release.FormatWeights(rec.Status.Weights))
	}
	if last != "" {
		msg += ": " + last
	}
	return exit(ExitTimeout, errors.New(msg))
}

// retry runs fn until it succeeds, fails for good, or ctx ends; each
// transient failure (machine.Classify) is printed as a progress line and
// retried with machine.Backoff. When ctx ends first, it returns the exit 4
// error naming the last failure.
func (g *globals) retry(ctx context.Context, w *waiting, p *progress, fn func(context.Context) error) error {
	err := machine.Retry(ctx, nil, fn, p.retrying)
	var gaveUp *machine.GaveUpError
	if errors.As(err, &gaveUp) && errors.Is(gaveUp.Err, context.DeadlineExceeded) {
		return w.timedOut(p.rec, "last error: "+gaveUp.Last.Error())
	}
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return w.timedOut(p.rec, p.lastWhy())
	}
	return err
}

// drive runs the release until --wait-for holds, printing progress. ctx
// carries the command's --timeout.
func (g *globals) drive(ctx context.Context, name string, repo release.Repo, w waiting, p *progress) error {
	until, err := w.until()
	if err != nil || until == nil {
		return err
	}
	var deps machine.Deps
	closeFn := func() {}
	err = g.retry(ctx, &w, p, func(ctx context.Context) error {
		d, c, err := g.deps(ctx, repo, true)
		if err == nil {
			deps, closeFn = d, c
		}
		return err
	})
	if err != nil {
		return err
	}
	defer closeFn()
	m := machine.New(deps, name, repo.Path)
	rec, err := m.Run(ctx, until, p.report)
	if rec != nil {
		p.rec = rec
	}
	if ctx.Err() == context.DeadlineExceeded {
		return w.timedOut(p.rec, p.lastWhy())
	}
	if err != nil {
		return err
	}
	var final *release.Release
	if err := g.retry(ctx, &w, p, func(ctx context.Context) error {
		var err error
		final, _, err = m.Load(ctx)
		return err
	}); err != nil {
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

// progress prints one line whenever what the release does changes, and
// one for every retry of a transient failure.
type progress struct {
	out  io.Writer
	last string
	// rec is the record last seen; why what it waited for, errored
	// whether that was a failure to find out (for the timeout's message).
	rec     *release.Release
	why     string
	errored bool
}

func (p *progress) report(o machine.Outcome) {
	p.rec, p.why, p.errored = o.Release, o.Reason, o.Errored
	st := o.Release.Status
	step := ""
	if st.Step >= 0 && st.Step < len(o.Release.Spec.Steps) {
		step = fmt.Sprintf(" step %d/%d", st.Step+1, len(o.Release.Spec.Steps))
	}
	what := o.Reason
	if o.Did != "" {
		what = o.Did + " " + shortHash(o.Commit)
		if o.Did == "commit" && o.Reason != "" {
			// Why the release moved on: a pause over, an analysis's verdict.
			what += ": " + o.Reason
		}
	}
	p.print(fmt.Sprintf("%-11s%s %s | %s", st.Phase, step, release.FormatWeights(st.Weights), what))
}

// retrying reports a transient failure that is retried in d.
func (p *progress) retrying(err error, d time.Duration) {
	p.why, p.errored = err.Error(), true
	p.print(fmt.Sprintf("%-11s %s (trying again in %s)", "Retrying", err, d.Round(100*time.Millisecond)))
}

func (p *progress) print(line string) {
	if line == p.last {
		return
	}
	p.last = line
	fmt.Fprintf(p.out, "%s %s\n", time.Now().Format("15:04:05"), line)
}

// lastWhy says what the release last waited for, for the timeout's message.
func (p *progress) lastWhy() string {
	switch {
	case p.why == "":
		return ""
	case p.errored:
		return "last error: " + p.why
	}
	return "last waiting for: " + p.why
}

var shortHash = git.ShortHash
