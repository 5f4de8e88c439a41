package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gitcanary/gitcanary/pkg/argocd"
)

// windowReader reads an Application's sync windows; argocd.Client is one.
type windowReader interface {
	SyncWindows(ctx context.Context, name string) (*argocd.SyncWindows, error)
}

const windowsRemedy = "see docs/schedules.md#argo-cds-sync-windows: while Argo CD's windows refuse syncs, a release waits before each step (aborts are committed and wait for Argo CD); give deny windows manualSync: true to let gitcanary's syncs, aborts included, through"

// syncWindows warns where the Application project's sync windows would
// hold a release: closed now, closing within the release's timed steps
// (a day when no release file is given), invalid, manualSync.
func (s *state) syncWindows(ctx context.Context) Result {
	wr, can := s.env.Argo.(windowReader)
	if !can {
		return skip("the Argo CD client cannot read sync windows")
	}
	w, err := wr.SyncWindows(ctx, s.env.App)
	if err != nil {
		return warn("let the token read the Application (applications, get) and its project (projects, get)", "cannot read the sync windows of %s: %v", s.env.App, err)
	}
	now := time.Now
	if s.env.Now != nil {
		now = s.env.Now
	}
	span, what := 24*time.Hour, "a day"
	if r := s.env.Release; r != nil {
		d, approval := r.Spec.TimedLength()
		span, what = max(d, time.Minute), fmt.Sprintf("release %s's timed steps (%s)", r.Metadata.Name, d)
		if approval {
			what += ", and the time its approvals take"
		}
	}
	warnings := w.Forecast(now(), span)
	if len(warnings) == 0 {
		if len(w.Windows) == 0 {
			return ok("no sync window applies to %s", s.env.App)
		}
		return ok("the sync windows of project %s let %s sync for %s", w.Project, s.env.App, what)
	}
	return warn(windowsRemedy, "%s", strings.Join(warnings, "; "))
}
