package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/lint"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
)

func newLint(g *globals) *cobra.Command {
	var file string
	var offline, live, genRouting bool
	var rps, errRate float64
	cmd := &cobra.Command{
		Use:   "lint -f FILE",
		Short: "Check a Release file, the app's mesh setup, and that the app renders in every state of it",
		Long: `lint checks the Release file, then the app at the branch head as a release's
first commit would: the workload and its kind, the Service's port names and
selector, sidecar injection in the namespace, and the DestinationRule and
VirtualService. Errors stop a release (exit code 2); warnings do not. Last, it
renders every state of the release. It reads git only, unless --live also
reads the cluster: the namespace's labels and the live stable workload, and,
when an Argo CD server is given, warns where the sync windows of the
Application's project would hold the release.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.readRelease(file)
			if err != nil {
				return err
			}
			if rps < 0 || errRate <= 0 || errRate >= 1 {
				return exit(ExitInvalid, fmt.Errorf("--rps must not be negative and --error-rate must be between 0 and 1 (exclusive), got %g and %g", rps, errRate))
			}
			if rps > 0 {
				printSizing(g.stdout, r, rps, errRate)
			}
			for _, w := range chatURLWarnings(r) { // webhooks.go
				fmt.Fprintf(g.stdout, "warning: %s\n", w)
			}
			if offline {
				fmt.Fprintf(g.stdout, "%s: release %s is valid (app not checked: --offline)\n", file, r.Metadata.Name)
				return nil
			}
			var p planner
			if live {
				if p.cluster, err = g.cluster(); err != nil {
					return err
				}
			}
			p.opts.GenerateRouting = genRouting
			app, err := g.loadApp(cmd, r)
			if err != nil {
				return err
			}
			chk, err := g.check(cmd, app, r, p)
			if err != nil {
				return err
			}
			for _, f := range chk.Findings {
				fmt.Fprintf(g.stdout, "%s: %s\n", f.Severity, f)
			}
			if live {
				warnings, err := g.syncWindowWarnings(cmd.Context(), r) // syncwindows.go
				if err != nil {
					return err
				}
				for _, w := range warnings {
					fmt.Fprintf(g.stdout, "warning: %s\n", w)
				}
			}
			if errs := lint.Errors(chk.Findings); len(errs) > 0 {
				return exit(ExitInvalid, fmt.Errorf("%s: %d error(s) stop release %s", file, len(errs), r.Metadata.Name))
			}
			states, _, err := g.plan(cmd, app, r, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: release %s is valid: %s %s → %s; %s renders in all %d states\n", file, r.Metadata.Name,
				chk.Kind.DisplayName(g.locale), r.Spec.Workload.Name, r.Spec.WorkloadName(), r.Spec.Repo.Path, len(states))
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the Release file")
	cmd.Flags().BoolVar(&offline, "offline", false, "check the file only, without reading the app repository")
	cmd.Flags().BoolVar(&live, "live", false, "also read the cluster: the namespace's labels, and the stable workload as start checks it; with an Argo CD server, warn of its sync windows")
	cmd.Flags().BoolVar(&genRouting, "generate-routing", false, "check as start --generate-routing would (missing DestinationRule/VirtualService are written)")
	cmd.Flags().Float64Var(&rps, "rps", 0, "the service's requests per second: print how long each analysis step needs for 95% power, and warn when it is shorter")
	cmd.Flags().Float64Var(&errRate, "error-rate", 0.01, "with --rps: the stable version's share of bad requests")
	return cmd
}

// planner says how plan and lint see a release: with a cluster or not,
// and with the options start would use.
type planner struct {
	cluster kube.Cluster
	opts    machine.StartOptions
}

// loadApp reads the release's app at the branch head.
func (g *globals) loadApp(cmd *cobra.Command, r *release.Release) (*machine.App, error) {
	repo, err := g.openRepo(cmd.Context(), r.Spec.Repo)
	if err != nil {
		return nil, err
	}
	head, err := repo.Head(cmd.Context())
	if err != nil {
		return nil, err
	}
	return machine.LoadApp(head, r.Spec.Repo.Path)
}

func (g *globals) planMachine(r *release.Release, p planner) (*machine.Machine, error) {
	kinds, err := g.kinds()
	if err != nil {
		return nil, err
	}
	// Plan and lint read templates and --prometheus as start does; web
	// metrics' headers are checked by start, where the configuration is.
	return machine.New(machine.Deps{Log: g.logger(), Builder: &kustomize.Krusty{}, Kinds: kinds, Cluster: p.cluster,
		Analysis: analysis.Settings{Prometheus: g.prometheus}}, r.Metadata.Name, r.Spec.Repo.Path), nil
}

// check runs the mesh checks of a release's first commit on the app.
func (g *globals) check(cmd *cobra.Command, app *machine.App, r *release.Release, p planner) (*machine.Checked, error) {
	m, err := g.planMachine(r, p)
	if err != nil {
		return nil, err
	}
	return m.Check(cmd.Context(), app, r.Spec)
}

// plan renders every state of a release from the branch head, writing nothing.
func (g *globals) plan(cmd *cobra.Command, app *machine.App, r *release.Release, p planner) ([]machine.PlannedState, []byte, error) {
	m, err := g.planMachine(r, p)
	if err != nil {
		return nil, nil, err
	}
	before, err := app.Build(cmd.Context(), &kustomize.Krusty{}, nil)
	if err != nil {
		return nil, nil, err
	}
	states, err := m.PlanWith(cmd.Context(), app, r, p.opts)
	return states, before, err
}

func newPlan(g *globals) *cobra.Command {
	var file, step, output string
	var p planner
	cmd := &cobra.Command{
		Use:   "plan -f FILE [--step S] [-o yaml|json|diff]",
		Short: "Print what the app path renders to in each state of a release, writing nothing",
		Long: `plan prints the complete manifests Argo CD would apply at each state of the
release: 0 (prepared, new version at weight 0), k (after the k-th step),
promoted and abandoned. Without --step it prints every state in order.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.readRelease(file)
			if err != nil {
				return err
			}
			if !slices.Contains([]string{"yaml", "json", "diff"}, output) {
				return exit(ExitInvalid, fmt.Errorf("-o %q: use yaml, json or diff", output))
			}
			app, err := g.loadApp(cmd, r)
			if err != nil {
				return err
			}
			states, before, err := g.plan(cmd, app, r, p)
			if err != nil {
				return err
			}
			var names []string
			for _, s := range states {
				names = append(names, s.Step)
			}
			if step != "" && !slices.Contains(names, step) {
				return exit(ExitInvalid, fmt.Errorf("--step %q: this release has states %s", step, strings.Join(names, ", ")))
			}
			return printPlan(g, states, before, step, output)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the Release file")
	cmd.Flags().StringVar(&step, "step", "", "only this state: 0, 1…N, promoted or abandoned")
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "yaml, json or diff (against the previous state)")
	cmd.Flags().BoolVar(&p.opts.GenerateRouting, "generate-routing", false, "plan as start --generate-routing would")
	return cmd
}

func printPlan(g *globals, states []machine.PlannedState, before []byte, step, output string) error {
	for i, s := range states {
		if step != "" && s.Step != step {
			continue
		}
		switch output {
		case "yaml":
			if step == "" {
				fmt.Fprintf(g.stdout, "# state %s: %s\n", s.Step, s.Describe)
			}
			g.stdout.Write(s.Manifests)
			if step == "" && i < len(states)-1 {
				fmt.Fprintln(g.stdout, "---")
			}
		case "json":
			objs, err := overlay.ParseObjects(s.Manifests)
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(map[string]any{"state": s.Step, "describe": s.Describe, "objects": objs}, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, string(data))
		case "diff":
			// Each state against the one before it; abandoned against the
			// app before the release, which it must equal.
			prev, prevName := before, "before the release"
			if i > 0 && s.Step != "abandoned" {
				prev, prevName = states[i-1].Manifests, "state "+states[i-1].Step
			}
			text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
				A: difflib.SplitLines(string(prev)), B: difflib.SplitLines(string(s.Manifests)),
				FromFile: prevName, ToFile: "state " + s.Step, Context: 3,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "# state %s: %s\n%s", s.Step, s.Describe, text)
		}
	}
	return nil
}

func newStart(g *globals) *cobra.Command {
	var file string
	var w waiting
	var opts machine.StartOptions
	cmd := &cobra.Command{
		Use:   "start -f FILE",
		Short: "Start a release: commit the new version's workload and subset, then drive it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := g.readRelease(file)
			if err != nil {
				return err
			}
			until, err := w.until()
			if err != nil {
				return err
			}
			ctx, cancel := w.deadline(cmd.Context())
			defer cancel()
			p := &progress{out: g.stdout}
			// A start that drives the release reads the cluster anyway: it
			// checks the live workload and namespace before committing.
			var m *machine.Machine
			closeFn := func() {}
			defer func() { closeFn() }()
			if err := g.retry(ctx, &w, p, func(ctx context.Context) error {
				deps, c, err := g.deps(ctx, r.Spec.Repo, until != nil)
				if err != nil {
					return err
				}
				// The Application is read before the first commit (admit.go).
				closeArgo, err := g.admitting(ctx, &deps, r, &opts)
				if err != nil {
					c()
					return err
				}
				m, closeFn = machine.New(deps, r.Metadata.Name, r.Spec.Repo.Path), func() { closeArgo(); c() }
				return nil
			}); err != nil {
				return err
			}
			var res git.Result
			err = g.retry(ctx, &w, p, func(ctx context.Context) error {
				res, err = m.StartWith(ctx, r, opts)
				return err
			})
			if errors.Is(err, machine.ErrExists) {
				// Starting again with the same file resumes the release: this
				// is how a killed CI job picks up where it stopped (and how
				// a start whose push was answered by a broken connection
				// finds that it landed).
				var rec *release.Release
				if lerr := g.retry(ctx, &w, p, func(ctx context.Context) error {
					var err error
					rec, _, err = m.Load(ctx)
					return err
				}); lerr != nil {
					return lerr
				}
				if !release.SameRelease(rec.Spec, r.Spec) {
					return exit(ExitInvalid, fmt.Errorf("%w; its recorded spec differs from %s, so it is not resumed (choose a new name for a new release)", err, file))
				}
				if rec.Status.Phase.Terminal() {
					// A retried CI job, or a controller's restart: the release
					// ended and is never synced again (a newer release may own
					// the app path now). The exit code says how it ended.
					fmt.Fprintf(g.stdout, "%s: already finished (%s); nothing to do\n", r.Metadata.Name, rec.Status.Phase)
					return g.finished(r.Metadata.Name, rec, w)
				}
				fmt.Fprintf(g.stdout, "%s: resuming (%s, weights %s)\n", r.Metadata.Name, rec.Status.Phase, release.FormatWeights(rec.Status.Weights))
				return g.drive(ctx, r.Metadata.Name, r.Spec.Repo, w, p)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: started, commit %s\n", r.Metadata.Name, shortHash(res.Commit.Hash))
			return g.drive(ctx, r.Metadata.Name, r.Spec.Repo, w, p)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the Release file")
	cmd.Flags().BoolVar(&opts.GenerateRouting, "generate-routing", false, "when the app has no DestinationRule or VirtualService for the host, write them (into "+machine.RoutingFile+") in the first commit")
	w.flags(cmd, "approval")
	return cmd
}

// newCommand builds set-weight, approve, promote and abort: a commit on
// the release as it stands in git, then driving it as --wait-for says.
// Transient failures of the commit are retried until --timeout.
func newCommand(g *globals, use, short string, nargs int, act func(ctx context.Context, m *machine.Machine, args []string) (git.Result, error)) *cobra.Command {
	var wh where
	w := waiting{abandonOK: strings.HasPrefix(use, "abort")}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.RangeArgs(nargs, nargs+1),
		RunE: func(cmd *cobra.Command, args []string) error {
			nameArgs, rest := args, []string(nil)
			if len(args) > nargs {
				nameArgs, rest = args[:1], args[1:]
			} else {
				nameArgs, rest = nil, args
			}
			name, repo, err := wh.resolve(g, nameArgs)
			if err != nil {
				return err
			}
			if _, err := w.until(); err != nil {
				return err
			}
			ctx, cancel := w.deadline(cmd.Context())
			defer cancel()
			p := &progress{out: g.stdout}
			var m *machine.Machine
			if err := g.retry(ctx, &w, p, func(ctx context.Context) error {
				deps, _, err := g.deps(ctx, repo, false)
				if err == nil {
					m = machine.New(deps, name, repo.Path)
				}
				return err
			}); err != nil {
				return err
			}
			var res git.Result
			began, retried := time.Now(), false
			err = g.retry(ctx, &w, p, func(ctx context.Context) error {
				var err error
				res, err = act(ctx, m, rest)
				if err != nil && retried && errors.Is(err, machine.ErrRefused) {
					// An earlier attempt's push may have landed with its
					// answer lost: if the release moved since this command
					// began, that is not a reason to fail.
					if moved := movedSince(ctx, m, began); moved != "" {
						fmt.Fprintf(g.stdout, "%s: the release moved on while this command was retried (%s); not committing again\n", name, moved)
						res = git.Result{}
						return nil
					}
				}
				retried = retried || err != nil
				return err
			})
			if err != nil {
				return err
			}
			if res.Commit.Hash != "" {
				fmt.Fprintf(g.stdout, "%s: %s, commit %s\n", name, res.Commit.Trailer(git.TrailerAction), shortHash(res.Commit.Hash))
			}
			return g.drive(ctx, name, repo, w, p)
		},
	}
	wh.flags(cmd)
	w.flags(cmd, "approval")
	return cmd
}

// movedSince describes the release's history entries recorded at or after
// began (the last one), or "" when there are none.
func movedSince(ctx context.Context, m *machine.Machine, began time.Time) string {
	rec, _, err := m.Load(ctx)
	if err != nil || rec.Status == nil {
		return ""
	}
	h := rec.Status.History
	if len(h) == 0 || h[len(h)-1].Time.Before(began.Truncate(time.Second)) {
		return ""
	}
	e := h[len(h)-1]
	return fmt.Sprintf("now %s after %s at %s", rec.Status.Phase, e.Action, e.Time.Format("15:04:05"))
}

func newSetWeight(g *globals) *cobra.Command {
	var o machine.CommandOptions
	cmd := newCommand(g, "set-weight [NAME] WEIGHT", "Route WEIGHT% of the traffic to the new version now", 1,
		func(ctx context.Context, m *machine.Machine, args []string) (git.Result, error) {
			// ParseInt with a bit size: Atoi then int32() would wrap 4294967306 to 10.
			w, err := strconv.ParseInt(args[0], 10, 32)
			if err != nil || w < 0 || w > 100 {
				return git.Result{}, exit(ExitInvalid, fmt.Errorf("weight %q is not a whole number from 0 to 100", args[0]))
			}
			return m.SetWeightWith(ctx, int32(w), o)
		})
	ignoreWindowFlag(cmd, &o)
	return cmd
}

// ignoreWindowFlag adds --ignore-window to a command that moves a release
// forward by hand.
func ignoreWindowFlag(cmd *cobra.Command, o *machine.CommandOptions) {
	cmd.Flags().BoolVar(&o.IgnoreWindow, "ignore-window", false, "act even outside the release's windows (spec.schedule); the commit records it")
}

func newApprove(g *globals) *cobra.Command {
	return newCommand(g, "approve [NAME]", "End the pause the release is waiting in", 0,
		func(ctx context.Context, m *machine.Machine, _ []string) (git.Result, error) {
			return m.Approve(ctx)
		})
}

func newPromote(g *globals) *cobra.Command {
	var o machine.CommandOptions
	cmd := newCommand(g, "promote [NAME]", "Skip the remaining steps: route 100% to the new version and retire the old", 0,
		func(ctx context.Context, m *machine.Machine, _ []string) (git.Result, error) {
			return m.PromoteWith(ctx, o)
		})
	ignoreWindowFlag(cmd, &o)
	return cmd
}

func newAbort(g *globals) *cobra.Command {
	var reason string
	cmd := newCommand(g, "abort [NAME]", "Abandon the release now: stable gets 100%, then everything the release created goes", 0,
		func(ctx context.Context, m *machine.Machine, _ []string) (git.Result, error) {
			return m.Abort(ctx, reason)
		})
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded in the release's status and commit")
	return cmd
}

func newStatus(g *globals) *cobra.Command {
	var wh where
	var output string
	cmd := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show a release's phase, weights and history, from git (and, given an Argo CD server, its sync windows)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, repo, err := wh.resolve(g, args)
			if err != nil {
				return err
			}
			deps, _, err := g.deps(cmd.Context(), repo, false)
			if err != nil {
				return err
			}
			rec, app, err := machine.New(deps, name, repo.Path).Load(cmd.Context())
			if err != nil {
				return err
			}
			switch output {
			case "yaml":
				data, err := release.Marshal(rec)
				if err != nil {
					return err
				}
				g.stdout.Write(data)
			case "json":
				data, err := json.MarshalIndent(rec, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, string(data))
			case "table":
				printStatus(g, rec, app.Commit, displayKind(deps.Kinds, rec.Spec.Workload.Kind, g.locale), g.syncWindowsState(cmd.Context(), rec))
			default:
				return exit(ExitInvalid, fmt.Errorf("-o %q: use table, json or yaml", output))
			}
			return nil
		},
	}
	wh.flags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table, json or yaml")
	return cmd
}

// displayKind names a workload kind for people, in their locale when the
// config gives it a localized name.
func displayKind(kinds *kube.Kinds, kind, locale string) string {
	for _, k := range kinds.All() {
		if k.Kind == kind {
			return k.DisplayName(locale)
		}
	}
	return kind
}

// printStatus prints the record; windows is what Argo CD's sync windows
// say now ("": nothing to say).
func printStatus(g *globals, r *release.Release, commit, kind, windows string) {
	st := r.Status
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Release:\t%s\n", r.Metadata.Name)
	fmt.Fprintf(tw, "Phase:\t%s\n", st.Phase)
	if st.Step >= 0 && st.Step < len(r.Spec.Steps) {
		fmt.Fprintf(tw, "Step:\t%d of %d (%s)\n", st.Step+1, len(r.Spec.Steps), r.Spec.Steps[st.Step].Describe())
	}
	fmt.Fprintf(tw, "Versions:\t%s → %s\n", st.StableVersion, r.Spec.Version)
	fmt.Fprintf(tw, "Workload:\t%s %s → %s\n", kind, r.Spec.Workload.Name, r.Spec.WorkloadName())
	fmt.Fprintf(tw, "Weights:\t%s\n", release.FormatWeights(st.Weights))
	fmt.Fprintf(tw, "Argo CD app:\t%s\n", r.Spec.ArgoCD.Application)
	fmt.Fprintf(tw, "Git:\t%s %s@%s\n", redact.URL(r.Spec.Repo.URL), r.Spec.Repo.Path, shortHash(commit))
	if st.Reason != "" {
		fmt.Fprintf(tw, "Reason:\t%s\n", st.Reason)
	}
	if st.Message != "" {
		fmt.Fprintf(tw, "Message:\t%s\n", st.Message)
	}
	printAnalysis(tw, r)
	printSchedule(tw, r, time.Now())
	if windows != "" {
		fmt.Fprintf(tw, "Sync windows:\t%s\n", windows)
	}
	tw.Flush()
	fmt.Fprintln(g.stdout, "\nHistory:")
	tw = tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SEQ\tTIME\tPHASE\tACTION\tWEIGHTS")
	for _, e := range st.History {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format("2006-01-02 15:04:05"), e.Phase, e.Action, e.Weights)
	}
	tw.Flush()
}

func newHistory(g *globals) *cobra.Command {
	var wh where
	var output string
	cmd := &cobra.Command{
		Use:   "history [NAME]",
		Short: "List the release's commits, oldest first",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, repo, err := wh.resolve(g, args)
			if err != nil {
				return err
			}
			r, err := g.openRepo(cmd.Context(), repo)
			if err != nil {
				return err
			}
			commits, err := r.Log(cmd.Context(), "", func(c git.Commit) bool {
				return c.Trailer(git.TrailerRelease) == name && machine.OfPath(c, repo.Path)
			}, 0)
			if err != nil {
				return err
			}
			if len(commits) == 0 {
				return exit(ExitInvalid, fmt.Errorf("no commit on %s carries %s: %s: %w", repo.BranchOrDefault(), git.TrailerRelease, name, machine.ErrNotFound))
			}
			slices.Reverse(commits)
			if output == "json" {
				data, err := json.MarshalIndent(commits, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, string(data))
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "COMMIT\tTIME\tSEQ\tACTION\tSUBJECT")
			for _, c := range commits {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", shortHash(c.Hash), c.Time.Format("2006-01-02 15:04:05"), c.Trailer(git.TrailerSeq), c.Trailer(git.TrailerAction), c.Subject)
			}
			return tw.Flush()
		},
	}
	wh.flags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}
