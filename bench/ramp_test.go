package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/waihu/waihu/bench/measure"
)

func TestReportSummariseAndWrite(t *testing.T) {
	r := Report{Limit: measure.DefaultLimit, Steps: []measure.StepResult{
		{Peer: "waihu", Calls: 100, OK: true, CPUPctPerCall: 0.2, RecvDev: measure.Percentiles{P99Ms: 1}},
		{Peer: "waihu", Calls: 200, OK: false, RecvDev: measure.Percentiles{P99Ms: 9}, LossPct: 1},
		{Peer: "diago", Calls: 50, OK: true, CPUPctPerCall: 0.5},
		{Peer: "diago", Calls: 100, OK: false},
	}}
	r.Summarise()
	if r.Held["waihu"] != 100 || r.Held["diago"] != 50 || r.Ratio != 2 {
		t.Fatalf("held %v ratio %v", r.Held, r.Ratio)
	}
	// With repeats a count is held when most runs are within the limit.
	r.Steps = append(r.Steps,
		measure.StepResult{Peer: "diago", Calls: 100, Run: 2, OK: true, CPUPctPerCall: 0.4},
		measure.StepResult{Peer: "diago", Calls: 100, Run: 3, OK: true, CPUPctPerCall: 0.6})
	r.Summarise()
	if r.Held["diago"] != 100 || r.CPUPerCall["diago"] != 0.5 {
		t.Fatalf("with repeats: held %v cpu %v", r.Held, r.CPUPerCall)
	}
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"channels.json", "channels.png"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() < 100 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseRamp(t *testing.T) {
	r, err := ParseRamp("500:2000:500")
	if err != nil || len(r.Steps()) != 4 || r.Steps()[3] != 2000 {
		t.Fatalf("%v %v", r.Steps(), err)
	}
	for _, bad := range []string{"", "1:2", "0:10:5", "10:5:1", "1:10:0"} {
		if _, err := ParseRamp(bad); err == nil {
			t.Errorf("ParseRamp(%q) accepted", bad)
		}
	}
}
