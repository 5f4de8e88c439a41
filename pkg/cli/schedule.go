package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// printSchedule says whether the release's windows let it advance now,
// and until when.
func printSchedule(tw io.Writer, r *release.Release, now time.Time) {
	if r.Spec.Schedule == nil || r.Status.Phase.Terminal() {
		return
	}
	st, loc, err := machine.WindowState(r, now)
	switch {
	case err != nil:
		fmt.Fprintf(tw, "Schedule:\t%v\n", err)
	case st.Open && st.Until.IsZero():
		fmt.Fprintf(tw, "Schedule:\topen\n")
	case st.Open:
		fmt.Fprintf(tw, "Schedule:\topen until %s\n", st.Until.In(loc).Format(time.RFC3339))
	case st.Until.IsZero():
		fmt.Fprintf(tw, "Schedule:\tclosed (%s); no window opens within two years\n", st.Reason)
	default:
		fmt.Fprintf(tw, "Schedule:\tclosed (%s) until %s: steps wait, an abort does not\n", st.Reason, st.Until.In(loc).Format(time.RFC3339))
	}
}
