package docs

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// scheduleRow is a row of schedules.md's table: a time, whether the
// release may advance (and why not), until when.
var scheduleRow = regexp.MustCompile("(?m)^\\| (\\S+) \\| (yes|no: [^|]+) \\| (\\S+) \\|$")

// TestSchedulesExample checks every row of schedules.md's table against
// the page's Release.
func TestSchedulesExample(t *testing.T) {
	data, err := os.ReadFile("schedules.md")
	if err != nil {
		t.Fatal(err)
	}
	m := yamlBlock.FindStringSubmatch(string(data))
	r, err := release.Parse([]byte(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Spec.Schedule.Compile()
	if err != nil {
		t.Fatal(err)
	}
	rows := scheduleRow.FindAllStringSubmatch(string(data), -1)
	if len(rows) < 5 {
		t.Fatalf("found %d rows in the table", len(rows))
	}
	for _, row := range rows {
		at, err := time.Parse(time.RFC3339, row[1])
		if err != nil {
			t.Fatal(err)
		}
		st := s.At(at, at)
		want := row[2] == "yes"
		if st.Open != want || (!want && !strings.Contains(st.Reason, strings.TrimPrefix(row[2], "no: "))) {
			t.Errorf("%s: open %v (%s); the table says %s", row[1], st.Open, st.Reason, row[2])
		}
		if until, err := time.Parse(time.RFC3339, row[3]); err != nil || !st.Until.Equal(until) {
			t.Errorf("%s: until %s; the table says %s", row[1], st.Until.In(s.Location).Format(time.RFC3339), row[3])
		}
	}
}

// syncWindowRow is a row of the Argo CD sync windows table.
var syncWindowRow = regexp.MustCompile("(?m)^\\| (\\S+) \\| (open|closed: [^|]+) \\| (\\S+) \\|$")

// TestSyncWindowsExample checks the table of the Argo CD sync windows
// section against the page's AppProject, for the Application reviews.
func TestSyncWindowsExample(t *testing.T) {
	data, err := os.ReadFile("schedules.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(data), "## Argo CD's sync windows")
	m := yamlBlock.FindStringSubmatch(section)
	var proj v1alpha1.AppProject
	if err := yaml.UnmarshalStrict([]byte(m[1]), &proj); err != nil {
		t.Fatal(err)
	}
	app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "reviews"}}
	w := &argocd.SyncWindows{Project: proj.Name}
	for _, sw := range *proj.Spec.SyncWindows.Matches(app) {
		w.Windows = append(w.Windows, *sw)
	}
	rows := syncWindowRow.FindAllStringSubmatch(section, -1)
	if len(rows) < 4 {
		t.Fatalf("found %d rows in the table", len(rows))
	}
	for _, row := range rows {
		at, err := time.Parse(time.RFC3339, row[1])
		if err != nil {
			t.Fatal(err)
		}
		st, err := w.At(at)
		if err != nil {
			t.Fatal(err)
		}
		want := row[2] == "open"
		if st.Open != want || (!want && !strings.Contains(st.Reason, strings.TrimPrefix(row[2], "closed: "))) {
			t.Errorf("%s: open %v (%s); the table says %s", row[1], st.Open, st.Reason, row[2])
		}
		if row[3] == "-" {
			continue
		}
		if until, err := time.Parse(time.RFC3339, row[3]); err != nil || !st.Until.Equal(until) {
			t.Errorf("%s: until %s; the table says %s", row[1], st.Until.Format(time.RFC3339), row[3])
		}
	}
}
