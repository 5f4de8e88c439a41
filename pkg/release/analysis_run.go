package release

import "time"

// AnalysisRun is the record of one analysis step, in status.analysis. The
// commit that starts the analysis writes its schedule and resolved
// queries; the verdict's commit adds the verdict. Every look is read at
// the timestamps this schedule gives, so any process, now or later,
// reads the same counts and reaches the same verdict.
type AnalysisRun struct {
	// Step is the analysis step's index in spec.steps; for the
	// background analysis, the step it started at.
	Step int `json:"step"`
	// Background marks the background analysis (status.background): it
	// has no horizon (Looks is BackgroundLooks) and can only fail.
	Background bool `json:"background,omitempty"`
	// Start is when the analysis began (its commit); look k (1..Looks)
	// covers Start+Warmup+(k-1)·Interval to Start+Warmup+k·Interval.
	Start    time.Time `json:"start"`
	Interval Duration  `json:"interval"`
	Warmup   Duration  `json:"warmup"`
	Looks    int       `json:"looks"`
	// Scrape is Prometheus's scrape interval: the stable version's counts
	// per scrape measure the dispersion of its bad events.
	Scrape Duration `json:"scrape"`
	// Lag is how long after a look's end its samples are read, so that
	// Prometheus has stored them (two scrape intervals).
	Lag Duration `json:"lag"`
	// Alpha and Detect are the judge's settings in effect.
	Alpha  float64 `json:"alpha"`
	Detect float64 `json:"detect"`
	// Canary and Stable are the versions compared.
	Canary string `json:"canary"`
	Stable string `json:"stable"`
	// Prometheus is the address read (credentials never appear here).
	Prometheus string `json:"prometheus"`
	// Metrics are the metrics with their queries resolved.
	Metrics []ResolvedMetric `json:"metrics"`
	// Verdict is empty while the analysis runs, then Successful, Failed
	// or Inconclusive.
	Verdict string `json:"verdict,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Look is the look the verdict was taken at.
	Look int `json:"look,omitempty"`
	// Evidence is the repository path of the full evidence file.
	Evidence string `json:"evidence,omitempty"`
}

// ResolvedMetric is a metric as an analysis reads it. A compare metric:
// counter selectors without the version matcher, which is added per
// version. A query or web metric: its placeholders filled, its
// conditions and limits (ResolvedConditions).
type ResolvedMetric struct {
	Name         string `json:"name"`
	Bad          string `json:"bad,omitempty"`
	Total        string `json:"total,omitempty"`
	VersionLabel string `json:"versionLabel,omitempty"`
	// Complement: Bad counts the good events (e.g. the requests faster
	// than a latency bound); bad = total − Bad.
	Complement bool `json:"complement,omitempty"`
	ResolvedConditions
}

// The verdicts of an analysis.
const (
	Successful   = "Successful"
	Failed       = "Failed"
	Inconclusive = "Inconclusive"
)

// LookEnd returns the end of look k (1-based); LookEnd(0) is the start of the first.
func (a *AnalysisRun) LookEnd(k int) time.Time {
	return a.Start.Add(a.Warmup.Duration + time.Duration(k)*a.Interval.Duration)
}

// Inconclusive reports whether the analysis of step ended Inconclusive:
// the release is then paused on that step until approved.
func (a *AnalysisRun) Inconclusive(step int) bool {
	return a != nil && a.Step == step && a.Verdict == Inconclusive
}
