package judge

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSizingTable checks the sizing table of docs/analysis.md (the rows
// after its "sizing table" marker) against TimeToPower: requests/s, canary
// weight, stable error rate, then the time with independent errors and
// with bursts of 4 (φ = 4), for detect 2 and 30-second looks.
func TestSizingTable(t *testing.T) {
	data, err := os.ReadFile("../../docs/analysis.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(data), "<!-- sizing table: TestSizingTable -->")
	if !ok {
		t.Fatal("docs/analysis.md has no sizing table marker")
	}
	rows := 0
	for _, line := range strings.Split(table, "\n")[3:] {
		if !strings.HasPrefix(line, "| ") {
			break
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 5 {
			t.Fatalf("row %q: want 5 cells", line)
		}
		rps, _ := strconv.ParseFloat(cells[0], 64)
		share, _ := strconv.ParseFloat(strings.TrimSuffix(cells[1], "%"), 64)
		bad, _ := strconv.ParseFloat(strings.TrimSuffix(cells[2], "%"), 64)
		for i, phi := range []float64{1, 4} {
			d, ok := TimeToPower(Config{}, Traffic{RPS: rps, CanaryShare: share / 100, BadRate: bad / 100, Dispersion: phi}, 30*time.Second)
			if got := short(d); !ok || got != cells[3+i] {
				t.Errorf("row %q: TimeToPower says %s (%v), the table %s", line, got, ok, cells[3+i])
			}
		}
		rows++
	}
	if rows < 10 {
		t.Errorf("%d rows in the sizing table, want at least 10", rows)
	}
}

// short prints a duration without trailing zero units: 6h45m, 5m, 30s.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
