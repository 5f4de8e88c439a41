package cli

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/judge"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// printAnalysis adds the release's analyses to status's table.
func printAnalysis(tw io.Writer, r *release.Release) {
	if b := r.Status.Background; b != nil {
		switch b.Verdict {
		case "":
			fmt.Fprintf(tw, "Background:	from step %d: %s against %s, a look every %s from %s (Prometheus %s)\n",
				b.Step+1, b.Canary, b.Stable, b.Interval.Duration, b.LookEnd(0).Format("15:04:05"), b.Prometheus)
		default:
			fmt.Fprintf(tw, "Background:	from step %d: %s (%s)\n", b.Step+1, b.Verdict, b.Reason)
			if b.Evidence != "" {
				fmt.Fprintf(tw, "Evidence:\t%s\n", b.Evidence)
			}
		}
	}
	a := r.Status.Analysis
	if a == nil {
		return
	}
	switch {
	case a.Verdict == "":
		fmt.Fprintf(tw, "Analysis:\tstep %d: %s against %s, %d looks every %s from %s (Prometheus %s)\n",
			a.Step+1, a.Canary, a.Stable, a.Looks, a.Interval.Duration, a.LookEnd(0).Format("15:04:05"), a.Prometheus)
	default:
		fmt.Fprintf(tw, "Analysis:\tstep %d: %s at look %d of %d (%s)\n", a.Step+1, a.Verdict, a.Look, a.Looks, a.Reason)
		fmt.Fprintf(tw, "Evidence:\t%s\n", a.Evidence)
	}
	fmt.Fprintf(tw, "Metrics:\t%s\n", metricList(a.Metrics))
}

// metricList names an analysis's metrics with their kind, template and
// dry run: "errors (compare), error-ratio (query, analysis/slo.yaml)".
func metricList(ms []release.ResolvedMetric) string {
	var out []string
	for _, m := range ms {
		what := []string{m.Kind()}
		if m.Template != "" {
			what = append(what, m.Template)
		}
		if m.DryRun {
			what = append(what, "dry run")
		}
		out = append(out, fmt.Sprintf("%s (%s)", m.Name, strings.Join(what, ", ")))
	}
	return strings.Join(out, ", ")
}

func newAnalysis(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "analysis",
		Short: "Work with the evidence of a release's analyses",
	}
	cmd.AddCommand(newReplay(g))
	return cmd
}

// newReplay re-derives every committed verdict of a release from the
// counts committed with it: the judge runs again on the evidence files,
// without Prometheus. A verdict that differs (another version of the
// judge, an edited file) is exit code 1.
func newReplay(g *globals) *cobra.Command {
	var wh where
	cmd := &cobra.Command{
		Use:   "replay [NAME]",
		Short: "Judge a release's committed analysis counts again and compare with the committed verdicts",
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
			_, app, err := machine.New(deps, name, repo.Path).Load(cmd.Context())
			if err != nil {
				return err
			}
			dir := path.Join(app.Path, overlay.Dir, analysis.Dir(name)) + "/"
			var files []string
			for p := range app.Files {
				if strings.HasPrefix(p, dir) && strings.HasSuffix(p, ".yaml") {
					files = append(files, p)
				}
			}
			if len(files) == 0 {
				return exit(ExitInvalid, fmt.Errorf("release %s has no analysis evidence in %s at %s: %w", name, dir, shortHash(app.Commit), machine.ErrNotFound))
			}
			slices.Sort(files)
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STEP\tCOMMITTED\tREPLAYED\tLOOK\tMETRICS\tFILE")
			differ := 0
			for _, p := range files {
				e, err := analysis.ParseEvidence(app.Files[p])
				if err != nil {
					return exit(ExitInvalid, fmt.Errorf("%s: %w", p, err))
				}
				committed := *e.Run
				out := analysis.Replay(name, e)
				same := out.Verdict == committed.Verdict && out.Look == committed.Look
				if !same {
					differ++
				}
				var ms []string
				for _, m := range out.Evidence.Metrics {
					ms = append(ms, fmt.Sprintf("%s=%s %s", m.Name, m.Decision(), m.Summary()))
				}
				step := fmt.Sprint(committed.Step + 1)
				if committed.Background {
					step = "background"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", step, committed.Verdict, verdictOr(out.Verdict), out.Look, strings.Join(ms, ", "), p)
			}
			tw.Flush()
			if differ > 0 {
				return fmt.Errorf("%d of %d verdicts differ from the committed ones", differ, len(files))
			}
			return nil
		},
	}
	wh.flags(cmd)
	return cmd
}

func verdictOr(v string) string {
	if v == "" {
		return "(none yet)"
	}
	return v
}

// printSizing tells, for each analysis step of r, how long its looks
// must run to reach 95% power against a canary spec.analysis.detect
// times worse, at rps requests per second with the stable version
// failing errRate of them, and warns when the step is shorter. The
// canary's share is the weight of the last setWeight before the step.
func printSizing(w io.Writer, r *release.Release, rps, errRate float64) {
	cfg := judge.Config{Alpha: r.Spec.Analysis.AlphaOrDefault(), Detect: r.Spec.Analysis.DetectOrDefault()}
	weight := int32(0)
	for i, s := range r.Spec.Steps {
		if s.SetWeight != nil {
			weight = *s.SetWeight
		}
		a := s.Analysis
		if a == nil || a.Duration == nil {
			continue
		}
		has := a.Duration.Duration - a.WarmupOrZero()
		need, ok := judge.TimeToPower(cfg, judge.Traffic{RPS: rps, CanaryShare: float64(weight) / 100, BadRate: errRate}, a.IntervalOrDefault())
		at := fmt.Sprintf("at %g requests/s, %d%% on the canary, %g%% errors", rps, weight, errRate*100)
		switch {
		case !ok:
			fmt.Fprintf(w, "warning: step %d (%s): %s, no analysis reaches 95%% power against %g× the errors: it ends Inconclusive (NotEnoughTraffic)\n", i+1, s.Describe(), at, cfg.Detect)
		case need > has:
			fmt.Fprintf(w, "warning: step %d (%s): %s, 95%% power against %g× the errors needs %s of looks; the step has %s: it is likely to end Inconclusive (NotEnoughTraffic)\n", i+1, s.Describe(), at, cfg.Detect, need, has)
		default:
			fmt.Fprintf(w, "step %d (%s): %s, 95%% power against %g× the errors needs %s of looks; the step has %s\n", i+1, s.Describe(), at, cfg.Detect, need, has)
		}
	}
}
